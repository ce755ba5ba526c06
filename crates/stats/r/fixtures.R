# Produces the synthetic survey and area data under crates/stats/tests/fixtures/ and the
# expected numbers the Rust tests compare against. Run from the repository root:
#   Rscript crates/stats/r/fixtures.R
# All data here is SYNTHETIC, generated below with set.seed; no package data is used.
# Needs R's `survey` package (Debian: r-cran-survey). The Fay-Herriot REML fit, the
# beta-binomial moments and the rank probabilities are computed by code written here
# from the published formulas (Debian ships no small-area package), by different
# numerical routes from the Rust code: REML by optimize() on the restricted
# log-likelihood, rank probabilities by integrate().
suppressPackageStartupMessages(library(survey))
out <- "crates/stats/tests/fixtures"
fmt <- function(x) sprintf("%.17g", x)
rows <- list()
put <- function(design, stat, domain, value) {
  rows[[length(rows) + 1]] <<- data.frame(design = design, stat = stat,
    domain = as.character(domain), value = fmt(value), stringsAsFactors = FALSE)
}

## ---- synthetic survey ---------------------------------------------------------------
set.seed(20261126)
clusters_per_stratum <- c(6, 5, 7, 4)
d <- NULL
for (h in 1:4) {
  for (k in 1:clusters_per_stratum[h]) {
    m <- sample(12:28, 1)
    base_w <- c(40, 65, 25, 90)[h]
    lev <- rnorm(1, 0, 0.5)
    age <- sample(1:3, m, replace = TRUE, prob = c(0.3, 0.4, 0.3))
    sex <- sample(1:2, m, replace = TRUE)
    latent <- 3.6 + 0.25 * (h - 2) + lev + 0.2 * (age - 2) + rnorm(m, 0, 0.9)
    y <- pmin(5, pmax(1, round(latent)))
    d <- rbind(d, data.frame(stratum = h, cluster = k, age = age, sex = sex,
      w = round(base_w * exp(rnorm(m, 0, 0.3)), 2),
      group = sample(1:3, m, replace = TRUE), y = y))
  }
}
d$sat <- as.numeric(d$y >= 4)
d$cell <- (d$age - 1) * 2 + d$sex          # age x sex, 1..6
d$fpc_psu <- c(30, 22, 40, 9)[d$stratum]     # population clusters per stratum
d$fpc_ind <- c(3000, 2500, 2800, 1500)[d$stratum] # population persons per stratum
# A lonely-PSU variant: stratum 4 collapsed to one cluster.
d$cluster_lonely <- ifelse(d$stratum == 4, 1, d$cluster)
write.csv(d, file.path(out, "survey.csv"), row.names = FALSE)

cell_pop <- data.frame(cell = 1:6, Freq = c(1400, 1500, 2200, 2100, 1300, 1300))
age_pop <- data.frame(age = 1:3, Freq = c(2900, 4300, 2600))
sex_pop <- data.frame(sex = 1:2, Freq = c(4850, 4950))

designs <- list(
  weighted = svydesign(ids = ~1, weights = ~w, data = d),
  strat_fpc = svydesign(ids = ~1, strata = ~stratum, weights = ~w, fpc = ~fpc_ind, data = d),
  cluster = svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, nest = TRUE, data = d),
  cluster_fpc = svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, fpc = ~fpc_psu,
    nest = TRUE, data = d)
)
designs$poststrat <- postStratify(designs$cluster, ~cell, cell_pop)
designs$raked <- rake(designs$cluster, list(~age, ~sex), list(age_pop, sex_pop),
  control = list(maxit = 5000, epsilon = 1e-14))

for (nm in names(designs)) {
  D <- designs[[nm]]
  m <- svymean(~y, D, deff = TRUE)
  put(nm, "y_mean", "all", coef(m)); put(nm, "y_se", "all", SE(m))
  put(nm, "y_deff", "all", deff(m))
  put(nm, "y_deff_replace", "all", deff(svymean(~y, D, deff = "replace")))
  put(nm, "df", "all", degf(D))
  s <- svymean(~sat, D)
  put(nm, "sat_mean", "all", coef(s)); put(nm, "sat_se", "all", SE(s))
  for (meth in c("beta", "logit", "xlogit")) {
    ci <- attr(svyciprop(~sat, D, method = meth), "ci")
    put(nm, paste0("sat_", meth, "_lower"), "all", ci[1])
    put(nm, paste0("sat_", meth, "_upper"), "all", ci[2])
  }
  b <- svyby(~y, ~group, D, svymean, deff = TRUE)
  for (g in 1:3) {
    put(nm, "y_mean", g, b$y[g]); put(nm, "y_se", g, b$se[g]); put(nm, "y_deff", g, b$DEff.y[g])
    sub <- subset(D, group == g)
    put(nm, "df", g, degf(sub))
    if (!(nm %in% c("poststrat", "raked"))) {
      # For calibrated designs R's nrow(subset) keeps all rows; see intervals.rs docs.
      ci <- attr(svyciprop(~sat, sub, method = "beta"), "ci")
      put(nm, "sat_beta_lower", g, ci[1]); put(nm, "sat_beta_upper", g, ci[2])
    }
    ci <- attr(svyciprop(~sat, sub, method = "xlogit"), "ci")
    put(nm, "sat_xlogit_lower", g, ci[1]); put(nm, "sat_xlogit_upper", g, ci[2])
  }
  # Weights after calibration, to check the calibration itself.
  if (nm %in% c("poststrat", "raked")) {
    w <- weights(D)
    for (i in c(1, 50, 100, 200, nrow(d))) put(nm, "weight", i, w[i])
  }
}

for (lp in c("certainty", "adjust", "average")) {
  options(survey.lonely.psu = lp)
  D <- svydesign(ids = ~cluster_lonely, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
  put(paste0("lonely_", lp), "y_se", "all", SE(svymean(~y, D)))
}
options(survey.lonely.psu = "fail")

## ---- unweighted intervals and special functions -------------------------------------
counts <- data.frame(x = c(0, 1, 7, 85, 90, 183, 250, 399, 400, 3),
                     n = c(50, 50, 30, 100, 100, 200, 275, 400, 400, 3))
for (i in seq_len(nrow(counts))) {
  x <- counts$x[i]; n <- counts$n[i]; key <- paste0(x, "/", n)
  cp <- binom.test(x, n)$conf.int
  wi <- prop.test(x, n, correct = FALSE)$conf.int
  je <- c(if (x == 0) 0 else qbeta(0.025, x + 0.5, n - x + 0.5),
          if (x == n) 1 else qbeta(0.975, x + 0.5, n - x + 0.5))
  put("binom", "cp_lower", key, cp[1]); put("binom", "cp_upper", key, cp[2])
  put("binom", "wilson_lower", key, wi[1]); put("binom", "wilson_upper", key, wi[2])
  put("binom", "jeffreys_lower", key, je[1]); put("binom", "jeffreys_upper", key, je[2])
}
for (p in c(1e-10, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999)) {
  put("special", "qnorm", p, qnorm(p))
  for (df in c(1, 3, 12, 99, 1e4)) put("special", paste0("qt_", df), p, qt(p, df))
  for (ab in list(c(0.5, 0.5), c(2, 30), c(85.5, 15.5), c(1500, 7), c(0.3, 4000)))
    put("special", paste0("qbeta_", ab[1], "_", ab[2]), p, qbeta(p, ab[1], ab[2]))
}
for (x in c(-30, -8, -1.96, -0.3, 0, 0.7, 2.5, 9)) put("special", "pnorm", x, pnorm(x))
for (x in c(0.001, 0.2, 0.5, 0.93, 0.9999))
  for (ab in list(c(0.5, 0.5), c(2, 30), c(85.5, 15.5), c(1500, 7)))
    put("special", paste0("pbeta_", ab[1], "_", ab[2]), x, pbeta(x, ab[1], ab[2]))

## ---- Fay-Herriot: synthetic areas, REML by optimize() ------------------------------
set.seed(7020)
K <- 30
area <- data.frame(area = 1:K, x1 = round(runif(K, 0, 10), 3),
  vardir = round(runif(K, 0.4, 3), 4))
theta <- 2 + 0.6 * area$x1 + rnorm(K, 0, 1.1)
area$direct <- round(theta + rnorm(K, 0, sqrt(area$vardir)), 5)
write.csv(area, file.path(out, "fh_areas.csv"), row.names = FALSE)

fh_fit <- function(y, X, D) {
  reml_ll <- function(A) {
    V <- A + D; Vi <- 1 / V
    XtViX <- crossprod(X, X * Vi)
    beta <- solve(XtViX, crossprod(X, y * Vi))
    r <- y - X %*% beta
    -0.5 * (sum(log(V)) + as.numeric(determinant(XtViX)$modulus) + sum(r^2 * Vi))
  }
  A <- optimize(reml_ll, c(0, 50), maximum = TRUE, tol = 1e-13)$maximum
  # optimize() cannot land exactly on the boundary; a REML maximum at 0 shows as a tiny A.
  if (reml_ll(0) >= reml_ll(A)) A <- 0
  V <- A + D; Vi <- 1 / V
  XtViX <- crossprod(X, X * Vi)
  beta <- as.numeric(solve(XtViX, crossprod(X, y * Vi)))
  gamma <- A / V
  xb <- as.numeric(X %*% beta)
  eblup <- gamma * y + (1 - gamma) * xb
  g1 <- gamma * D
  g2 <- (1 - gamma)^2 * rowSums((X %*% solve(XtViX)) * X)
  varA <- 2 / sum(1 / V^2)
  g3 <- D^2 / V^3 * varA
  list(A = A, beta = beta, eblup = eblup, mse = g1 + g2 + 2 * g3)
}
X <- cbind(1, area$x1)
fit <- fh_fit(area$direct, X, area$vardir)
put("fh", "A", "all", fit$A)
put("fh", "beta", 0, fit$beta[1]); put("fh", "beta", 1, fit$beta[2])
for (i in 1:K) { put("fh", "eblup", i, fit$eblup[i]); put("fh", "mse", i, fit$mse[i]) }
# The same areas with large sampling variances, where REML puts A at zero.
fit0 <- fh_fit(area$direct[1:8], X[1:8, ], area$vardir[1:8] * 40)
put("fh_zero", "A", "all", fit0$A)
for (i in 1:8) { put("fh_zero", "eblup", i, fit0$eblup[i]); put("fh_zero", "mse", i, fit0$mse[i]) }

## ---- beta-binomial empirical Bayes, method of moments --------------------------------
set.seed(311)
bb <- data.frame(unit = 1:20, n = sample(30:200, 20))
bb$x <- rbinom(20, bb$n, rbeta(20, 45, 5))
write.csv(bb, file.path(out, "bb_units.csv"), row.names = FALSE)
N <- sum(bb$n); mu <- sum(bb$x) / N; p <- bb$x / bb$n; Kb <- nrow(bb)
S <- sum(bb$n * (p - mu)^2)
rho <- (S / (mu * (1 - mu)) - (Kb - 1)) / (N - sum(bb$n^2) / N - (Kb - 1))
M <- 1 / rho - 1
put("bb", "mu", "all", mu); put("bb", "rho", "all", rho); put("bb", "M", "all", M)
post <- (bb$x + mu * M) / (bb$n + M)
for (i in 1:Kb) {
  put("bb", "post_mean", i, post[i])
  put("bb", "post_lower", i, qbeta(0.025, bb$x[i] + mu * M, bb$n[i] - bb$x[i] + (1 - mu) * M))
  put("bb", "post_upper", i, qbeta(0.975, bb$x[i] + mu * M, bb$n[i] - bb$x[i] + (1 - mu) * M))
}

## ---- rank probabilities by integrate(); rank 1 = highest ------------------------------
est <- c(0.91, 0.885, 0.93, 0.87, 0.905)
se <- c(0.02, 0.03, 0.015, 0.025, 0.01)
Kr <- length(est)
for (i in 1:Kr) {
  for (r in 1:Kr) {
    f <- function(t) sapply(t, function(tt) {
      q <- pnorm((est[-i] - tt) / se[-i])    # P(other unit above tt)
      pb <- c(1, rep(0, Kr - 1))             # Poisson-binomial of how many are above
      for (qj in q) pb <- c(pb[1] * (1 - qj), pb[-1] * (1 - qj) + pb[-Kr] * qj)
      pb[r] * dnorm(tt, est[i], se[i])
    })
    v <- integrate(f, est[i] - 12 * se[i], est[i] + 12 * se[i], rel.tol = 1e-12,
      abs.tol = 1e-15, subdivisions = 2000)$value
    put("ranks", paste0("p_rank_", r), i, v)
  }
}
# Klein-Wright-Wieczorek joint and marginal Bonferroni rank sets, rank 1 = highest.
for (kind in c("joint", "marginal")) {
  z <- if (kind == "joint") qnorm(1 - 0.1 / (Kr * (Kr - 1))) else qnorm(1 - 0.1 / (2 * (Kr - 1)))
  for (i in 1:Kr) {
    above <- 0; below <- 0
    for (j in setdiff(1:Kr, i)) {
      s <- sqrt(se[i]^2 + se[j]^2)
      if (est[j] - est[i] - z * s > 0) above <- above + 1
      if (est[j] - est[i] + z * s < 0) below <- below + 1
    }
    put("ranks", paste0(kind, "_lower"), i, 1 + above)
    put("ranks", paste0(kind, "_upper"), i, Kr - below)
  }
}

res <- do.call(rbind, rows)
write.csv(res, file.path(out, "expected.csv"), row.names = FALSE, quote = FALSE)
cat("wrote", nrow(res), "expected values\n")
