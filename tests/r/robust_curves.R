# The log-rank test, the Kaplan-Meier RMST and the Aalen-Johansen cumulative incidence
# with variances clustered by peer worker (docs/clustering.md), from R survival's own
# robust score test and infinitesimal-jackknife influences; sourced by oracle.R and
# cluster_robust.R.
#
# robust_logrank(formula, data, cluster): formula Surv(time, event) ~ ARM + strata(...);
#   W = the score residuals of coxph at beta = 0 (Breslow ties: they sum to the log-rank
#   O - E) summed by cluster and squared; rscore = coxph(..., cluster = )$rscore, the
#   robust score test (Lin & Wei 1989)
# rmst_grouped_var(time, event, cluster, tau): survfit(cluster = , influence = TRUE)'s
#   influences of S(t) by cluster, integrated from 0 to tau (S is a step function), then
#   squared and summed
# cif_grouped(time, status, cluster, horizon): status 0/1/2; survfit(Surv(time,
#   factor(status)), id = ) influences of the probability of state 1 at the horizon (one
#   row per participant; survfit's own cluster argument is not applied to a multi-state
#   fit in survival 3.5), summed by cluster and squared; returns F and V
robust_logrank <- function(formula, data, cluster) {
  data$.cluster <- cluster
  fit <- coxph(formula, data, cluster = .cluster, ties = "breslow")
  z <- suppressWarnings(coxph(formula, data, ties = "breslow", init = 0, model = TRUE,
                              control = coxph.control(iter.max = 0)))
  U <- rowsum(residuals(z, type = "score"), cluster)
  list(u = sum(U), W = sum(U^2), rscore = fit$rscore)
}
rmst_grouped_var <- function(time, event, cluster, tau) {
  d <- data.frame(time = time, event = event, cluster = cluster)
  k <- survfit(Surv(time, event) ~ 1, d, cluster = cluster, influence = TRUE)
  keep <- k$time < tau
  width <- diff(c(k$time[keep], tau))
  D <- k$influence.surv[, keep, drop = FALSE] %*% width
  sum(D^2)
}
cif_grouped <- function(time, status, cluster, horizon) {
  d <- data.frame(time = time, status = factor(status, levels = 0:2), id = seq_along(time))
  f <- survfit(Surv(time, status) ~ 1, d, id = id, influence = TRUE)
  k <- findInterval(horizon, f$time)  # influence column 1 is time 0, column k + 1 time k
  s1 <- which(f$states == "1")
  D <- rowsum(f$influence.pstate[, k + 1, s1], cluster)
  list(F = if (k == 0) 0 else f$pstate[k, s1], V = sum(D^2))
}
