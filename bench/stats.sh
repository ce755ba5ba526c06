#!/usr/bin/env bash
# Stats: 72-station survey estimates plus 10,000-draw rank uncertainty, minyi against R's
# survey package doing the same computation on the same file, in the same run.
#
#   bench/stats.sh            (set CARGO_TARGET_DIR to reuse a build)
#
# 1. Generates a SYNTHETIC survey deterministically with R (set.seed(2014)): 72 stations
#    of 100-400 respondents each (the demo's sample sizes), true satisfaction 0.85-0.95,
#    design weights 50-150, answer `sat` 0/1. Columns: station,w,sat.
# 2. minyi: `minyi stats estimate --var sat --weight w --by station --format csv` (weighted
#    proportion, logit interval per station), then `minyi stats ranks --draws 10000` on
#    those estimates (P(top 6), P(bottom 10), P(bottom 3), expected ranks, 95% rank
#    intervals, rank confidence sets). Timed as wall-clock seconds of both processes,
#    start-up and file reading included.
# 3. R: read.csv, svydesign(ids=~1, weights=~w), svyby(svymean) and svyby(svyciprop,
#    "xlogit") per station, then 10,000 rnorm draws of the 72 estimates with the same
#    summaries. Timed inside R from before read.csv to the end (R's start-up and
#    library(survey) loading excluded, which favours R).
# 4. Checks agreement: estimates, SEs and interval ends to 1e-9 relative; Monte Carlo
#    summaries (different random streams) within 1 rank / 0.05 probability.
#
# Ends with one line: RESULT stats minyi=<seconds> baseline=<seconds> ratio=<baseline/minyi>
# (times in seconds of wall clock; ratio > 1 means minyi is faster).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(survey)' >/dev/null 2>&1; then
  echo "installing R's survey package (r-cran-survey) …" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y r-cran-survey >/dev/null
fi

cargo build --release --quiet -p minyi-cli
bin="${CARGO_TARGET_DIR:-target}/release/minyi"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- 1. the synthetic survey file -------------------------------------------------------
Rscript --vanilla - "$work/survey.csv" <<'EOF'
args <- commandArgs(trailingOnly = TRUE)
set.seed(2014)
rows <- lapply(1:72, function(k) {
  n <- sample(100:400, 1); p <- runif(1, 0.85, 0.95)
  data.frame(station = sprintf("S%02d", k), w = round(runif(n, 50, 150), 2),
             sat = as.integer(runif(n) < p))
})
d <- do.call(rbind, rows)
write.csv(d, args[1], row.names = FALSE, quote = FALSE)
cat(sprintf("SYNTHETIC survey: %d respondents in %d stations\n", nrow(d), 72))
EOF

# --- 2. minyi ----------------------------------------------------------------------------
t0=$(date +%s.%N)
"$bin" stats estimate --input "$work/survey.csv" --var sat --weight w --by station \
  --format csv > "$work/minyi_est.csv"
"$bin" stats ranks --input "$work/minyi_est.csv" --unit group --estimate estimate --se se \
  --draws 10000 --seed 1 --top 6 --bottom 10,3 --format text > "$work/minyi_ranks.txt"
t1=$(date +%s.%N)
minyi_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "minyi: estimates + 10,000-draw ranks for 72 stations in ${minyi_s} s"

# --- 3. R, and 4. the agreement check -------------------------------------------------------
r_s=$(Rscript --vanilla - "$work" <<'EOF'
suppressPackageStartupMessages(library(survey))
dir <- commandArgs(trailingOnly = TRUE)[1]
t0 <- proc.time()[["elapsed"]]
d <- read.csv(file.path(dir, "survey.csv"))
D <- svydesign(ids = ~1, weights = ~w, data = d)
m <- svyby(~sat, ~station, D, svymean)
ci <- svyby(~sat, ~station, D, svyciprop, method = "xlogit", vartype = "ci")
est <- m$sat; se <- m$se; K <- length(est)
draws <- 10000
set.seed(1)
ranks <- matrix(0L, draws, K)
for (b in 1:draws) ranks[b, ] <- rank(-rnorm(K, est, se), ties.method = "first")
p_top6 <- colMeans(ranks <= 6)
p_bottom10 <- colMeans(ranks > K - 10)
p_bottom3 <- colMeans(ranks > K - 3)
expected <- colMeans(ranks)
intervals <- apply(ranks, 2, quantile, probs = c(0.025, 0.975), type = 1)
elapsed <- proc.time()[["elapsed"]] - t0

mine <- read.csv(file.path(dir, "minyi_est.csv"))
mine <- mine[match(as.character(m$station), mine$group), ]
rel <- function(a, b) max(abs(a - b) / abs(b))
gap <- c(estimate = rel(mine$estimate, est), se = rel(mine$se, se),
         lower = rel(mine$lower, ci$ci_l), upper = rel(mine$upper, ci$ci_u))
r <- read.table(file.path(dir, "minyi_ranks.txt"), skip = 1, header = TRUE)
r <- r[match(as.character(m$station), r[[1]]), ]
mc <- c(expected_rank = max(abs(r[[4]] - expected)), p_top6 = max(abs(r[[7]] - p_top6)),
        p_bottom10 = max(abs(r[[8]] - p_bottom10)), p_bottom3 = max(abs(r[[9]] - p_bottom3)))
message(paste(sprintf("agreement: max relative gap %s = %.2e", names(gap), gap), collapse = "\n"))
message(paste(sprintf("Monte Carlo: max |difference| %s = %.3f", names(mc), mc), collapse = "\n"))
if (any(!is.finite(gap)) || any(gap > 1e-9)) stop("minyi and R estimates disagree")
if (mc[["expected_rank"]] > 1 || any(mc[-1] > 0.05)) stop("rank summaries disagree")
cat(sprintf("%.3f\n", elapsed))
EOF
)
echo "R (survey $(Rscript -e 'cat(as.character(packageVersion("survey")))')): the same in ${r_s} s"
awk -v m="$minyi_s" -v b="$r_s" \
  'BEGIN { printf "RESULT stats minyi=%.3f baseline=%.3f ratio=%.1f\n", m, b, b / m }'
