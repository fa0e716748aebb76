# The partially nested linear mixed model in R, the reference of
# tests/test_clustering_pnlmm.py.
#
#   Rscript pnlmm.R data.csv out.tsv
#
# data.csv: y, cluster (peer-worker cluster label, or the participant's own id), pw (1 for a
# participant in a peer-worker cluster, 0 otherwise), arm (1 treated, 0 control) and the
# other fixed-effect columns x_* (baseline, site indicators). Fits
#   nlme::lme(y ~ arm + x_..., random = ~ pw - 1 | cluster,
#             weights = varIdent(form = ~ 1 | arm), method = "REML")
# (a peer-worker effect only where pw = 1: a participant outside any peer worker's
# caseload has none; a residual variance per arm), and with one residual variance
#   lmerTest::lmer(y ~ arm + x_... + (0 + pw | cluster), REML = TRUE)
# for its Satterthwaite df. Writes model, term, estimate, std_error, df (lmer only), then
# the adjusted mean of each arm (terms mean_treated, mean_control: the fixed effects at
# the column means of the design with arm set to 1 and to 0, SE from vcov; lmer's df by
# lmerTest::contest1D), then the variance components as terms tau2, sigma2_treated,
# sigma2_control.
suppressMessages({library(nlme); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(cluster = "character"))
d$armf <- factor(ifelse(d$arm == 1, "treated", "control"))
xs <- c("arm", grep("^x_", names(d), value = TRUE))
form <- reformulate(xs, "y")
ctrl <- lmeControl(maxIter = 1000, msMaxIter = 1000, niterEM = 200, tolerance = 1e-12,
                   msTol = 1e-14, returnObject = FALSE)
f <- lme(form, random = ~ pw - 1 | cluster, weights = varIdent(form = ~ 1 | armf),
         data = d, method = "REML", control = ctrl)
ratio <- coef(f$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
s2 <- f$sigma^2 * ratio[c("treated", "control")]^2
tau2 <- as.numeric(getVarCov(f)[1, 1])
se <- sqrt(diag(vcov(f)))
xbar <- colMeans(model.matrix(form, d))
L <- rbind(replace(xbar, "arm", 1), replace(xbar, "arm", 0))
m_est <- drop(L %*% fixef(f)); m_se <- sqrt(diag(L %*% vcov(f) %*% t(L)))
out <- data.frame(model = "nlme", term = c(names(fixef(f)), "mean_treated", "mean_control",
                                           "tau2", "sigma2_treated", "sigma2_control"),
                  estimate = c(unname(fixef(f)), m_est, tau2, unname(s2)),
                  std_error = c(unname(se), m_se, NA, NA, NA), df = NA)
g <- lmer(update(form, . ~ . + (0 + pw | cluster)), data = d, REML = TRUE,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12),
                                check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore"))
cf <- summary(g)$coefficients
vc <- as.data.frame(VarCorr(g))
mc <- rbind(contest1D(g, L[1, ]), contest1D(g, L[2, ]))
out <- rbind(out, data.frame(model = "lmer", term = c(rownames(cf), "mean_treated",
                                                      "mean_control", "tau2", "sigma2"),
                             estimate = c(cf[, "Estimate"], mc$Estimate, vc$vcov),
                             std_error = c(cf[, "Std. Error"], mc[["Std. Error"]], NA, NA),
                             df = c(cf[, "df"], mc$df, NA, NA)))
write.table(out, args[2], sep = "\t", row.names = FALSE, quote = FALSE)
