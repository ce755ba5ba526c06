# R side of the stats benchmark: the same computation as minyi's, on the same kind of
# SYNTHETIC data (generated here with set.seed): 72 stations of 100-400 weighted
# respondents, a design-based proportion with its logit interval per station, then
# 10,000 seeded normal draws of the 72 estimates for P(top 6), P(bottom 10),
# P(bottom 3), expected ranks and 95% rank intervals. Prints seconds elapsed.
#   Rscript crates/stats/r/bench.R
suppressPackageStartupMessages(library(survey))
set.seed(1)
K <- 72
stations <- lapply(1:K, function(k) {
  n <- sample(100:400, 1); p <- runif(1, 0.85, 0.95)
  data.frame(y = as.numeric(runif(n) < p), w = runif(n, 50, 150))
})
t0 <- proc.time()[["elapsed"]]
est <- numeric(K); se <- numeric(K)
for (k in 1:K) {
  d <- svydesign(ids = ~1, weights = ~w, data = stations[[k]])
  ci <- svyciprop(~y, d, method = "logit")
  m <- svymean(~y, d)
  est[k] <- coef(m); se[k] <- SE(m)
}
t1 <- proc.time()[["elapsed"]]
draws <- 10000
ranks <- matrix(0L, draws, K)
for (b in 1:draws) {
  theta <- rnorm(K, est, se)
  ranks[b, ] <- rank(-theta, ties.method = "first")
}
p_top6 <- colMeans(ranks <= 6)
p_bottom10 <- colMeans(ranks > K - 10)
p_bottom3 <- colMeans(ranks > K - 3)
expected <- colMeans(ranks)
intervals <- apply(ranks, 2, quantile, probs = c(0.025, 0.975), type = 1)
t2 <- proc.time()[["elapsed"]]
cat(sprintf("R estimates %.3f s, ranks %.3f s, total %.3f s\n", t1 - t0, t2 - t1, t2 - t0))
