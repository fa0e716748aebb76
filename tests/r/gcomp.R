# The g-computation of the primary outcome (docs/survival.md §1) and its influence-function
# variance, naive or summed by peer-worker cluster (docs/clustering.md); sourced by
# oracle.R and cluster_robust.R, so the delta method is written once in R.
#
# gcomp_influence(fit, md, used): fit is the binomial glm of md[used, ] (md: every
#   participant, with the fit's columns and ARM 0/1); returns r1, r0 (the standardised
#   risks) and phi (n x 2): (m_a(Z_i) - r_a)/n + g_a' H^-1 score_i, the score 0 for rows
#   not used (H^-1 = cov.unscaled, i.e. sandwich::bread / number of rows fitted)
# gcomp_cov(phi, cluster = NULL): Cov(r1, r0) = crossprod(phi), or with clusters the
#   contributions summed by cluster (rowsum) times G/(G-1), as sandwich::vcovCL
# gcomp_se(r1, r0, V): the SEs of r1, r0, the risk difference and the log marginal OR
gcomp_influence <- function(fit, md, used) {
  n <- nrow(md)
  tt <- delete.response(terms(fit))
  d1 <- md; d1$ARM <- 1; d0 <- md; d0$ARM <- 0
  X1 <- model.matrix(tt, d1); X0 <- model.matrix(tt, d0)
  m1 <- drop(plogis(X1 %*% coef(fit))); m0 <- drop(plogis(X0 %*% coef(fit)))
  r1 <- mean(m1); r0 <- mean(m0)
  g1 <- colMeans(X1 * (m1 * (1 - m1))); g0 <- colMeans(X0 * (m0 * (1 - m0)))
  dbeta <- matrix(0, n, length(coef(fit)))
  dbeta[used, ] <- estfun(fit) %*% summary(fit)$cov.unscaled
  list(r1 = r1, r0 = r0,
       phi = cbind((m1 - r1) / n + dbeta %*% g1, (m0 - r0) / n + dbeta %*% g0))
}
gcomp_cov <- function(phi, cluster = NULL) {
  if (is.null(cluster)) return(crossprod(phi))
  G <- length(unique(cluster))
  crossprod(rowsum(phi, cluster)) * G / (G - 1)
}
gcomp_se <- function(r1, r0, V) {
  gr <- c(1 / (r1 * (1 - r1)), -1 / (r0 * (1 - r0)))
  list(r1 = sqrt(V[1, 1]), r0 = sqrt(V[2, 2]), rd = sqrt(V[1, 1] + V[2, 2] - 2 * V[1, 2]),
       lor = sqrt(drop(gr %*% V %*% gr)))
}
