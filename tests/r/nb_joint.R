# NB2 helpers shared by the R scripts of the test suite.
# nb_fit(formula, data): MASS::glm.nb iterated to a tight tolerance (epsilon 1e-12; the
# default 1e-8 stops ~1e-8 relative from the maximum), and the covariance of the
# coefficients from the joint observed information of (beta, log theta): the negative
# Hessian of the NB2 log-likelihood, written out analytically here (not glm.nb's
# expected information given theta, which ignores the uncertainty of theta-hat).
suppressPackageStartupMessages(library(MASS))

nb_fit <- function(formula, data) {
  fit <- glm.nb(formula, data = data, control = glm.control(epsilon = 1e-12, maxit = 200))
  X <- model.matrix(fit)
  y <- fit$y
  mu <- fit$fitted.values
  th <- fit$theta
  tm <- th + mu
  l_th <- digamma(y + th) - digamma(th) + log(th) + 1 - log(tm) - (y + th) / tm
  l_tt <- trigamma(y + th) - trigamma(th) + 1 / th - 1 / tm + (y - mu) / tm^2
  p <- ncol(X)
  H <- matrix(0, p + 1, p + 1)
  H[1:p, 1:p] <- -crossprod(X, X * (th * mu * (y + th) / tm^2))
  H[1:p, p + 1] <- H[p + 1, 1:p] <- th * colSums(X * ((y - mu) * mu / tm^2))
  H[p + 1, p + 1] <- th^2 * sum(l_tt) + th * sum(l_th)
  V <- solve(-H)
  list(fit = fit, coef = coef(fit), se = sqrt(diag(V))[1:p], theta = th,
       alpha = 1 / th, score_theta = th * sum(l_th))
}
