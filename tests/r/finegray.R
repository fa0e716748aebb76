# Fine-Gray references (tests/test_survival_finegray.py, oracle.R): cmprsk::crr,
# cmprsk::cuminc, survival::finegray + coxph, and the per-participant contributions of
# crr's variance for the variance clustered by peer worker.
#
# fg_crr_strata(time, status, X, strata): the Fine-Gray model with a baseline and a censoring
#   distribution per stratum, from crr alone: Newton steps b <- b + (sum_s inf_s)^-1
#   sum_s score_s with crr(init = b, maxiter = 0) on each stratum's rows (crr returns the
#   score and information at b), to a step below 1e-12; the variance
#   (sum inf)^-1 (sum_s inf_s var_s inf_s) (sum inf)^-1, crr's sandwich summed over strata.
#   Returns list(coef, var, inf, fits).
# fg_phi(time, status, X, b): the contributions phi_i = eta_i + psi_i of crr's variance
#   (Fine & Gray 1999, section 3) written from their definitions with loops over the
#   event and censoring times; crossprod(phi) equals crr's inf %*% var %*% inf
#   (checked by fg_cluster_var on every stratum).
# fg_cluster_var(time, status, X, strata, cluster, fit): the sandwich with phi summed by
#   cluster.
fg_crr_strata <- function(time, status, X, strata, tol = 1e-12) {
  X <- as.matrix(X)
  b <- rep(0, ncol(X))
  for (it in 1:50) {
    fits <- lapply(split(seq_along(time), strata), function(i)
      crr(time[i], status[i], X[i, , drop = FALSE], init = b, maxiter = 0))
    U <- Reduce(`+`, lapply(fits, function(f) f$score))
    I <- Reduce(`+`, lapply(fits, function(f) f$inf))
    step <- solve(I, U)
    b <- b + step
    if (max(abs(step)) < tol) break
  }
  fits <- lapply(split(seq_along(time), strata), function(i)
    crr(time[i], status[i], X[i, , drop = FALSE], init = b, maxiter = 0))
  I <- Reduce(`+`, lapply(fits, function(f) f$inf))
  M <- Reduce(`+`, lapply(fits, function(f) f$inf %*% f$var %*% f$inf))
  H <- solve(I)
  list(coef = b, var = H %*% M %*% H, inf = I, fits = fits)
}
fg_phi <- function(time, status, X, b) {
  X <- as.matrix(X); n <- length(time); p <- ncol(X)
  r <- exp(drop(X %*% b)); cens <- status == 0; comp <- status == 2
  uc <- sort(unique(time[cens]))
  nc <- sapply(uc, function(u) sum(time >= u))  # crr: everyone with T >= u is at risk
  dc <- sapply(uc, function(u) sum(time[cens] == u))
  G <- cumprod(1 - dc / nc)
  Gm <- function(x) c(1, G)[findInterval(x, uc, left.open = TRUE) + 1]  # G(x-)
  ut <- sort(unique(time[status == 1]))
  dk <- sapply(ut, function(t) sum(time[status == 1] == t))
  Gi <- Gm(time)
  W <- sapply(ut, function(t) ifelse(time >= t, 1, ifelse(comp, Gm(t) / Gi, 0)))
  W <- matrix(W, nrow = n)
  S0 <- colSums(W * r)
  xbar <- t(W * r) %*% X / S0
  phi <- matrix(0, n, p)
  for (k in seq_along(ut))  # eta: minus the compensator over the weighted time at risk
    phi <- phi - (W[, k] * r * dk[k] / S0[k]) * sweep(X, 2, xbar[k, ])
  ev <- which(status == 1)
  phi[ev, ] <- phi[ev, ] + X[ev, , drop = FALSE] - xbar[match(time[ev], ut), , drop = FALSE]
  for (m in seq_along(uc)) {  # psi: q(u)/n(u) dM^c_i(u)
    u <- uc[m]; j <- which(comp & time < u); q <- rep(0, p)
    for (k in which(ut >= u))
      q <- q + dk[k] / S0[k] *
        colSums((W[j, k] * r[j]) * sweep(X[j, , drop = FALSE], 2, xbar[k, ]))
    dM <- (cens & time == u) - (time >= u) * dc[m] / nc[m]
    phi <- phi + outer(dM / nc[m], q)
  }
  phi
}
fg_cluster_var <- function(time, status, X, strata, cluster, fit) {
  X <- as.matrix(X)
  phi <- matrix(0, length(time), ncol(X))
  for (s in names(fit$fits)) {
    i <- which(as.character(strata) == s)
    phi[i, ] <- fg_phi(time[i], status[i], X[i, , drop = FALSE], fit$coef)
    f <- fit$fits[[s]]
    stopifnot(isTRUE(all.equal(crossprod(phi[i, , drop = FALSE]),
                               unname(f$inf %*% f$var %*% f$inf), tolerance = 1e-9)))
  }
  H <- solve(fit$inf)
  Ug <- rowsum(phi, as.character(cluster))
  H %*% crossprod(Ug) %*% H
}
