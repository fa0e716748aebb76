# The R oracle of tests/test_r_oracle.py: every row of survival.tsv and questionnaires.tsv
# recomputed in R from the pipeline's derived datasets (the CSV copies of
# results/derived), each the way docs/survival.md defines it, with R's own estimators
# (glm, lm, survfit, survdiff, coxph, cox.zph, cmprsk::cuminc and crr, MASS::glm.nb,
# sandwich).
# The rows of the partially nested design (clustering = peer_worker; docs/clustering.md):
# sandwich::vcovCL and coxph(cluster = ) with the clusters built here from ADSL (the main
# peer worker of a treated participant, the participant alone otherwise); the robust
# log-rank score test and the grouped influences of survfit (robust_curves.R).
#
# Usage: Rscript oracle.R DERIVED_DIR PARAMS.tsv BOOT_DIR OUT_SURVIVAL.tsv OUT_QUEST.tsv
#   PARAMS.tsv  key <tab> value (lists comma-separated): treated, control, horizon, tau,
#               strata, cox_covariates, primary_covariates, primary_strategy,
#               sensitivity_strategies, n_boot, visits, landmarks (the survival landmarks
#               in days, the horizon among them), stratifiers
#   BOOT_DIR    boot_treated.bin, boot_control.bin: the pipeline's bootstrap resample
#               indices (0-based, int32, n_boot x n row-major) of the days-in-hospital rows;
#               boot_treated_units.bin: the units (0-based, n_boot x G) drawn by the cluster
#               bootstrap of the treated arm, units = peer workers and participants without
#               one, in sorted (C locale) label order
suppressPackageStartupMessages({
  library(survival); library(cmprsk); library(MASS); library(sandwich)
})
args <- commandArgs(trailingOnly = TRUE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "nb_joint.R")); source(file.path(here, "gcomp.R"))
source(file.path(here, "robust_curves.R")); source(file.path(here, "finegray.R"))
source(file.path(here, "ancova.R"))
derived <- args[1]; boot_dir <- args[3]
P <- read.delim(args[2], header = FALSE, col.names = c("key", "value"),
                colClasses = "character")
par <- setNames(strsplit(P$value, ",", fixed = TRUE), P$key)
trt <- par$treated; ctl <- par$control; contrast <- paste(trt, "vs", ctl)
H <- as.numeric(par$horizon); tau <- as.numeric(par$tau)
strata_vars <- par$strata; cox_cov <- par$cox_covariates; prim_cov <- par$primary_covariates
z <- qnorm(0.975)
ctl_cox <- coxph.control(eps = 1e-11, iter.max = 100)  # R's default eps 1e-9 stops ~1e-7 early

rd <- function(f) read.csv(file.path(derived, f), stringsAsFactors = FALSE,
                           na.strings = c("", "NA"))
adsl <- rd("adsl.csv"); adtte <- rd("adtte.csv"); adre <- rd("adre.csv"); adqs <- rd("adqs.csv")
adsl$CLUSTER <- ifelse(adsl$ARM == trt & !is.na(adsl$PEERWID) & adsl$PEERWID != "",
                       paste0("PW:", adsl$PEERWID), paste0("ID:", adsl$USUBJID))

rows <- list()
clustering <- "none"  # the rows' clustering column; "peer_worker" in the nested sections
# se: the standard error on the scale of the CI (log for ratios, logit for a risk,
# log(-log) for a survival or cumulative incidence; bootstrap SD for the bootstrap rows)
add <- function(analysis, outcome, contr, type, est, lo = NA, hi = NA, p = NA, n = NA,
                events = NA, se = NA) {
  rows[[length(rows) + 1]] <<- data.frame(
    analysis = analysis, clustering = clustering, outcome = outcome, contrast = contr,
    estimate_type = type, estimate = est, std_error = se, ci_low = lo, ci_high = hi,
    p_value = p, n = n, events = events)
}
add_ratio <- function(a, o, c, type, b, se, n, e)
  add(a, o, c, type, exp(b), exp(b - z * se), exp(b + z * se), 2 * pnorm(-abs(b / se)), n, e,
      se)
add_diff <- function(a, o, c, type, est, se, n, e, p = TRUE)
  add(a, o, c, type, est, est - z * se, est + z * se,
      if (p) 2 * pnorm(-abs(est / se)) else NA, n, e, se)
loglog_se <- function(s, se) if (s > 0 && s < 1 && se > 0) se / (s * abs(log(s))) else NA

# ADSL columns missing from a frame, added by participant (as the package's merge_adsl)
with_adsl <- function(d, cols) {
  need <- setdiff(unique(cols), names(d))
  if (!length(need)) return(d)
  merge(d, adsl[, c("USUBJID", need)], by = "USUBJID", all.x = TRUE, sort = FALSE)
}
# covariates as the package's design(): Y/N flags 0/1, numbers as they are, text a factor
# whose first level (sorted) is the reference
covariate <- function(x) {
  v <- unique(x[!is.na(x)])
  if (is.character(x) && length(v) && all(v %in% c("Y", "N"))) return(as.numeric(x == "Y"))
  if (is.numeric(x) || is.logical(x)) return(as.numeric(x))
  factor(x, levels = sort(v, method = "radix"))
}
model_frame <- function(d, covs) {
  out <- data.frame(ARM = as.numeric(d$ARM == trt))
  for (v in covs) out[[v]] <- covariate(d[[v]])
  out
}
rhs <- function(covs) paste(c("ARM", covs), collapse = " + ")
strata_term <- function() if (length(strata_vars))
  paste0(" + strata(", paste(strata_vars, collapse = ", "), ")") else ""
param <- function(p) adtte[adtte$PARAMCD == p, ]

# ---------------------------------------------------------------- primary (g-computation)
# strategy s of the primary outcome, rows of analysis an with outcome o (docs/survival.md:
# the primary strategy as analysis "primary", the others as "primary_sensitivity")
primary <- function(s, an, o) {
  if (s == "hypothetical_km") return(primary_km(an, o))
  d <- with_adsl(param("READMIT"), c("ARM", prim_cov, "CLUSTER", "SITEID"))
  n <- nrow(d); a <- as.numeric(d$ARM == trt); t <- d$AVAL
  ev <- d$CNSR == 0 & t <= H
  cb <- d$CNSR == 1 & t < H
  cmp <- d$CMPEVFL %in% "Y"
  death <- cb & cmp; lost <- cb & !cmp
  y <- ev
  if (s == "composite") y <- y | death
  if (s %in% c("while_alive", "composite")) { used <- !lost; cens <- lost }
  else if (s == "hypothetical_ipcw") { used <- !(lost | death); cens <- lost | death }
  else if (s == "exclude_incomplete") { used <- !(lost | death); cens <- NULL }
  else stop("oracle.R: primary strategy ", s, " not covered")
  w <- NULL
  if (!is.null(cens)) {
    # IPCW: G(u-) the KM probability of remaining uncensored within arm, censorings tied
    # with outcomes after them: the other times are moved earlier by half the smallest gap
    # between distinct times (a shift below survfit's timefix tolerance would be undone)
    u <- pmin(t, H); G <- rep(1, n)
    half_gap <- min(diff(sort(unique(u)))) / 2
    for (g in unique(d$ARM)) {
      ii <- which(d$ARM == g)
      uu <- ifelse(cens[ii], u[ii], u[ii] - half_gap)
      km <- survfit(Surv(uu, cens[ii]) ~ 1)
      k <- findInterval(u[ii], km$time, left.open = TRUE)
      G[ii] <- c(1, km$surv)[k + 1]
    }
    w <- ifelse(used, 1 / G, 0)
  }
  md <- model_frame(d, prim_cov); md$y <- as.numeric(y)
  f <- as.formula(paste("y ~", rhs(prim_cov)))
  ctl_glm <- glm.control(epsilon = 1e-14, maxit = 100)
  fit <- if (is.null(w)) glm(f, binomial, md[used, ], control = ctl_glm) else
    suppressWarnings(glm(f, binomial, md[used, ], weights = w[used], control = ctl_glm))
  # influence function: (m_a(Z) - r_a)/n + g_a' H^-1 score_i (score 0 for unused rows)
  g <- gcomp_influence(fit, md, used)
  r1 <- g$r1; r0 <- g$r0
  V <- gcomp_cov(g$phi)
  vb <- if (is.null(w)) vcov(fit) else sandwich(fit)
  ns <- c(sum(used & a == 1), sum(used & a == 0))
  es <- c(sum(used & y & a == 1), sum(used & y & a == 0))
  primary_rows(an, o, r1, r0, V, fit, vb, ns, es, used)
  # the partially nested design: influence contributions summed by cluster, G/(G-1);
  # the conditional OR from vcovCL (clusters of the fitted rows)
  clustering <<- "peer_worker"
  Vc <- gcomp_cov(g$phi, d$CLUSTER)
  primary_rows(an, o, r1, r0, Vc, fit, vcovCL(fit, cluster = d$CLUSTER[used]), ns, es,
               used)
  icc_row(an, o, as.numeric(y), used & a == 1 & startsWith(d$CLUSTER, "PW:"), d)
  clustering <<- "none"
}
# strategy hypothetical_km: 1 - S(H) of survfit by arm, Greenwood variance (survfit's
# std.err is that of log S); clustered, the treated arm's influences of S(H) from
# survfit(cluster = , influence = TRUE), summed by cluster and squared; the control arm's
# risk (unclustered participants) is written once, with the naive rows
primary_km <- function(an, o) {
  d <- with_adsl(param("READMIT"), c("ARM", "CLUSTER"))
  ev <- d$CNSR == 0
  arm_km <- function(m, cluster = NULL) {
    dd <- data.frame(time = d$AVAL[m], ev = ev[m], cl = d$CLUSTER[m])
    km <- survfit(Surv(time, ev) ~ 1, dd)
    j <- findInterval(H, km$time)
    S <- if (j == 0) 1 else km$surv[j]
    V <- if (j == 0) 0 else (S * km$std.err[j])^2
    if (!is.null(cluster)) {
      k <- survfit(Surv(time, ev) ~ 1, dd, cluster = cl, influence = TRUE)
      V <- if (j == 0) 0 else sum(k$influence.surv[, j]^2)
    }
    list(r = 1 - S, V = V, n = sum(m), e = sum(ev[m] & d$AVAL[m] <= H))
  }
  rows_of <- function(k1, k0, both) {
    for (k in if (both) 1:2 else 1) {
      x <- list(k1, k0)[[k]]; se <- sqrt(x$V) / (x$r * (1 - x$r))
      add(an, o, c(trt, ctl)[k], "risk", x$r, plogis(qlogis(x$r) - z * se),
          plogis(qlogis(x$r) + z * se), NA, x$n, x$e, se)
    }
    n <- k1$n + k0$n; e <- k1$e + k0$e
    add_diff(an, o, contrast, "risk_difference", k1$r - k0$r, sqrt(k1$V + k0$V), n, e)
    add_ratio(an, o, contrast, "odds_ratio", qlogis(k1$r) - qlogis(k0$r),
              sqrt(k1$V / (k1$r * (1 - k1$r))^2 + k0$V / (k0$r * (1 - k0$r))^2), n, e)
  }
  k0 <- arm_km(d$ARM == ctl)
  rows_of(arm_km(d$ARM == trt), k0, TRUE)
  clustering <<- "peer_worker"
  rows_of(arm_km(d$ARM == trt, cluster = TRUE), k0, FALSE)
  clustering <<- "none"
}
primary_rows <- function(an, o, r1, r0, V, fit, vb, ns, es, used) {
  for (k in 1:2) {
    r <- c(r1, r0)[k]; se <- sqrt(V[k, k]) / (r * (1 - r))
    add(an, o, c(trt, ctl)[k], "risk", r, plogis(qlogis(r) - z * se),
        plogis(qlogis(r) + z * se), NA, ns[k], es[k], se)
  }
  se <- gcomp_se(r1, r0, V)
  add_diff(an, o, contrast, "risk_difference", r1 - r0, se$rd, sum(used), sum(es))
  add_ratio(an, o, contrast, "odds_ratio", qlogis(r1) - qlogis(r0), se$lor,
            sum(used), sum(es))
  add_ratio(an, o, contrast, "conditional_odds_ratio", coef(fit)[["ARM"]],
            sqrt(vb["ARM", "ARM"]), sum(used), sum(es))
}
# ANOVA ICC of the 0/1 outcome among the treated with a peer worker, nested within site
# when every peer worker works in one site; Searle's F-based interval
icc_row <- function(an, o, y, m, d) {
  yy <- y[m]; cl <- d$CLUSTER[m]; site <- d$SITEID[m]
  nested <- all(tapply(site, cl, function(s) length(unique(s))) == 1)
  tab <- summary(if (nested) aov(yy ~ factor(site) + factor(cl)) else
    aov(yy ~ factor(cl)))[[1]]
  k <- length(unique(cl)); N <- length(yy)
  S <- if (nested) length(unique(site)) else 1
  msb <- tab[nrow(tab) - 1, "Mean Sq"]; msw <- tab[nrow(tab), "Mean Sq"]
  n_i <- table(cl); s_i <- if (nested) tapply(site, cl, `[`, 1) else rep("all", k)
  N_s <- tapply(as.numeric(n_i), s_i, sum)
  n0 <- (N - sum(as.numeric(n_i)^2 / N_s[s_i[names(n_i)]])) / (k - S)
  F <- msb / msw
  b <- function(q) (F / q - 1) / (F / q + n0 - 1)
  add(an, o, trt, "icc", (msb - msw) / (msb + (n0 - 1) * msw),
      b(qf(0.975, k - S, N - k)), b(qf(0.025, k - S, N - k)), NA, N, sum(yy))
}

# ---------------------------------------------------------------- KM, log-rank, Cox, RMST
first_below_half <- function(time, s) {
  k <- which(!is.na(s) & s <= 0.5)
  if (length(k)) time[k[1]] else NA
}
cox_rows <- function(d, ev, analysis, outcome, ph, cluster = FALSE) {
  md <- model_frame(d, cox_cov)
  md$time <- d$AVAL; md$ev <- ev; md$CLUSTER <- d$CLUSTER
  for (v in strata_vars) md[[v]] <- d[[v]]
  fit <- if (cluster)
    coxph(as.formula(paste("Surv(time, ev) ~", rhs(cox_cov), strata_term())), md,
          cluster = CLUSTER, ties = "efron", control = ctl_cox) else
    coxph(as.formula(paste("Surv(time, ev) ~", rhs(cox_cov), strata_term())), md,
          ties = "efron", control = ctl_cox)
  add_ratio(analysis, outcome, contrast, "hazard_ratio", coef(fit)[["ARM"]],
            sqrt(vcov(fit)["ARM", "ARM"]), nrow(d), sum(ev))
  if (ph) {
    zt <- cox.zph(fit, transform = "km", terms = TRUE)$table
    for (term in rownames(zt))
      add(analysis, outcome, paste0("PH test (km transform): ", term), "ph_test_chisq",
          zt[term, "chisq"], NA, NA, zt[term, "p"], nrow(d), sum(ev))
  }
}
with_cluster <- function(f) { clustering <<- "peer_worker"; f(); clustering <<- "none" }
# Kaplan-Meier survival at each landmark: summary(survfit(conf.type = "log-log"),
# times = ) per arm (a landmark after an arm's last time is dropped by summary, and so not
# compared), the difference with the two Greenwood SEs; clustered by peer worker, the
# treated arm's robust SE of survfit(cluster = ) (the control arm is unclustered)
landmarks <- function(d, ev, analysis, pcd) {
  for (tt in as.numeric(par$landmarks)) {
    o <- paste(pcd, "at day", tt)
    S <- c(); SE <- c(); E <- c()
    for (arm in c(trt, ctl)) {
      m <- d$ARM == arm
      sm <- summary(survfit(Surv(d$AVAL[m], ev[m]) ~ 1, conf.type = "log-log"), times = tt)
      if (!length(sm$surv)) next
      E <- c(E, sum(ev[m] & d$AVAL[m] <= tt))
      add(analysis, o, arm, "survival", sm$surv, sm$lower, sm$upper, NA, sum(m), E[length(E)],
          loglog_se(sm$surv, sm$std.err))
      S <- c(S, sm$surv); SE <- c(SE, sm$std.err)
    }
    if (length(S) == 2 && sum(SE) > 0)
      add_diff(analysis, o, contrast, "survival_difference", S[1] - S[2], sqrt(sum(SE^2)),
               nrow(d), sum(E))
    m <- d$ARM == trt
    sm <- summary(survfit(Surv(AVAL, CNSR == 0) ~ 1, d[m, ], conf.type = "log-log",
                          cluster = CLUSTER), times = tt)
    if (!length(sm$surv) || length(S) < 2) next
    with_cluster(function() {
      add(analysis, o, trt, "survival", sm$surv, sm$lower, sm$upper, NA, sum(m), E[1],
          loglog_se(sm$surv, sm$std.err))
      if (sm$std.err^2 + SE[2]^2 > 0)
        add_diff(analysis, o, contrast, "survival_difference", S[1] - S[2],
                 sqrt(sm$std.err^2 + SE[2]^2), nrow(d), sum(E))
    })
  }
}
tenure <- function(pcd, analysis) {
  d <- with_adsl(param(pcd), c("ARM", cox_cov, strata_vars, "CLUSTER"))
  ev <- d$CNSR == 0
  for (arm in c(trt, ctl)) {
    m <- d$ARM == arm
    km <- survfit(Surv(d$AVAL[m], ev[m]) ~ 1, conf.type = "log-log")
    lower <- ifelse(km$surv == 0, 0, km$lower); upper <- ifelse(km$surv == 0, 0, km$upper)
    add(analysis, pcd, arm, "median_time", first_below_half(km$time, km$surv),
        first_below_half(km$time, lower), first_below_half(km$time, upper), NA,
        sum(m), sum(ev[m]))
  }
  landmarks(d, ev, analysis, pcd)
  sform <- paste("Surv(AVAL, CNSR == 0) ~ factor(ARM, levels = c(ctl, trt))", strata_term())
  sd <- survdiff(as.formula(sform), d)
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs  # by stratum when stratified
  ex <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  oe <- obs[2] - ex[2]; v <- sd$var[2, 2]
  r <- length(rows)
  add_ratio(analysis, pcd, contrast, "logrank_hazard_ratio", oe / v, 1 / sqrt(v),
            nrow(d), sum(ev))
  rows[[r + 1]]$p_value <<- pchisq(sd$chisq, 1, lower.tail = FALSE)
  # clustered by peer worker: the same Peto HR, SE sqrt(W)/V, the robust score test
  lr <- robust_logrank(as.formula(paste("Surv(AVAL, CNSR == 0) ~ ARM", strata_term())),
                       data.frame(d[, c("AVAL", "CNSR", strata_vars), drop = FALSE],
                                  ARM = as.numeric(d$ARM == trt)), d$CLUSTER)
  with_cluster(function() {
    add_ratio(analysis, pcd, contrast, "logrank_hazard_ratio", oe / v, sqrt(lr$W) / v,
              nrow(d), sum(ev))
    rows[[length(rows)]]$p_value <<- pchisq(lr$rscore, 1, lower.tail = FALSE)
  })
  cox_rows(d, ev, analysis, pcd, ph = TRUE)
  with_cluster(function() cox_rows(d, ev, analysis, pcd, ph = FALSE, cluster = TRUE))
  rm <- c(); vr <- c()
  for (arm in c(trt, ctl)) {
    m <- d$ARM == arm
    tab <- summary(survfit(Surv(AVAL, CNSR == 0) ~ 1, d[m, ]), rmean = tau)$table
    rm <- c(rm, tab[["rmean"]]); vr <- c(vr, tab[["se(rmean)"]]^2)
    add_diff(analysis, pcd, arm, "rmst", tab[["rmean"]], tab[["se(rmean)"]], sum(m),
             sum(ev[m]), p = FALSE)
  }
  add_diff(analysis, pcd, contrast, "rmst_difference", rm[1] - rm[2], sqrt(sum(vr)),
           nrow(d), sum(ev))
  # clustered by peer worker: each arm's grouped IJ variance; the treated arm's row and the
  # difference (the control arm's participants are unclustered: written once)
  vc <- sapply(c(trt, ctl), function(arm) {
    m <- d$ARM == arm
    rmst_grouped_var(d$AVAL[m], ev[m], d$CLUSTER[m], tau)
  })
  m <- d$ARM == trt
  with_cluster(function() {
    add_diff(analysis, pcd, trt, "rmst", rm[1], sqrt(vc[1]), sum(m), sum(ev[m]), p = FALSE)
    add_diff(analysis, pcd, contrast, "rmst_difference", rm[1] - rm[2], sqrt(sum(vc)),
             nrow(d), sum(ev))
  })
}

# ---------------------------------------------------------------- competing risks
loglog <- function(s, se) {
  th <- se / (s * log(s))
  if (s > 0 && s < 1) sort(c(s^exp(-z * th), s^exp(z * th))) else c(s, s)
}
competing <- function() {
  d <- with_adsl(param("READMIT"), c("ARM", cox_cov, strata_vars, "CLUSTER"))
  st <- ifelse(d$CNSR == 0, 1, ifelse(d$CMPEVFL %in% "Y", 2, 0))
  Fs <- c(); Vs <- c()
  for (arm in c(trt, ctl)) {
    m <- d$ARM == arm
    tp <- timepoints(cuminc(d$AVAL[m], st[m], cencode = 0), H)
    Fh <- tp$est["1 1", 1]; Vh <- tp$var["1 1", 1]
    ci <- loglog(Fh, sqrt(Vh))
    add("competing_risks", "READMIT", arm, "cumulative_incidence", Fh, ci[1], ci[2], NA,
        sum(m), sum(st[m] == 1), loglog_se(Fh, sqrt(Vh)))
    Fs <- c(Fs, Fh); Vs <- c(Vs, Vh)
  }
  add_diff("competing_risks", "READMIT", contrast, "cif_difference", Fs[1] - Fs[2],
           sqrt(sum(Vs)), nrow(d), sum(st == 1))
  # clustered by peer worker: the grouped IJ of the Aalen-Johansen estimate (survfit)
  cg <- lapply(c(trt, ctl), function(arm) {
    m <- d$ARM == arm
    cif_grouped(d$AVAL[m], st[m], d$CLUSTER[m], H)
  })
  m <- d$ARM == trt
  with_cluster(function() {
    ci <- loglog(cg[[1]]$F, sqrt(cg[[1]]$V))
    add("competing_risks", "READMIT", trt, "cumulative_incidence", cg[[1]]$F, ci[1], ci[2],
        NA, sum(m), sum(st[m] == 1), loglog_se(cg[[1]]$F, sqrt(cg[[1]]$V)))
    add_diff("competing_risks", "READMIT", contrast, "cif_difference",
             cg[[1]]$F - cg[[2]]$F, sqrt(cg[[1]]$V + cg[[2]]$V), nrow(d), sum(st == 1))
  })
  cox_rows(d, st == 1, "competing_risks", "READMIT (cause-specific)", ph = FALSE)
  cox_rows(d, st == 2, "competing_risks", "death before READMIT (cause-specific)", ph = FALSE)
  with_cluster(function() {
    cox_rows(d, st == 1, "competing_risks", "READMIT (cause-specific)", FALSE, TRUE)
    cox_rows(d, st == 2, "competing_risks", "death before READMIT (cause-specific)", FALSE,
             TRUE)
  })
  # Fine-Gray (stratified: crr by stratum, finegray.R) and Gray's test (cuminc)
  if (any(st == 2)) {
    X <- model.matrix(~ ., model_frame(d, cox_cov))[, -1, drop = FALSE]
    sv <- if (length(strata_vars)) do.call(paste, c(d[strata_vars], sep = "|")) else
      rep("all", nrow(d))
    fg <- fg_crr_strata(d$AVAL, st, X, sv)
    o <- "READMIT (subdistribution)"
    add_ratio("competing_risks", o, contrast, "subdistribution_hazard_ratio", fg$coef[1],
              sqrt(fg$var[1, 1]), nrow(d), sum(st == 1))
    vc <- fg_cluster_var(d$AVAL, st, X, sv, d$CLUSTER, fg)
    with_cluster(function()
      add_ratio("competing_risks", o, contrast, "subdistribution_hazard_ratio", fg$coef[1],
                sqrt(vc[1, 1]), nrow(d), sum(st == 1)))
    g <- cuminc(d$AVAL, st, d$ARM, strata = sv, cencode = 0)$Tests
    add("competing_risks", "READMIT", contrast, "gray_test_chisq", g["1", "stat"], NA, NA,
        g["1", "pv"], nrow(d), sum(st == 1))
  }
}

# ---------------------------------------------------------------- recurrent readmissions
per_participant <- function(cols) adre[!duplicated(adre$USUBJID), c("USUBJID", cols)]
recurrent <- function() {
  pp <- with_adsl(per_participant(c("NREADM", "RISKDAYS")), c("ARM", prim_cov, "CLUSTER"))
  pp <- pp[pp$RISKDAYS > 0, ]
  md <- model_frame(pp, prim_cov); md$NREADM <- pp$NREADM; md$RISKDAYS <- pp$RISKDAYS
  r <- nb_fit(as.formula(paste("NREADM ~", rhs(prim_cov), "+ offset(log(RISKDAYS))")), md)
  add_ratio("recurrent_readmission", "NREADM", contrast, "rate_ratio", r$coef[["ARM"]],
            r$se[[2]], nrow(pp), sum(pp$NREADM))
  with_cluster(function()
    add_ratio("recurrent_readmission", "NREADM", contrast, "rate_ratio", r$coef[["ARM"]],
              sqrt(vcovCL(r$fit, cluster = pp$CLUSTER)["ARM", "ARM"]), nrow(pp),
              sum(pp$NREADM)))
  ag <- with_adsl(adre[, intersect(c("USUBJID", "TSTART", "TSTOP", "EVENT", "ARM",
                                     cox_cov, strata_vars), names(adre))],
                  c("ARM", cox_cov, strata_vars, "CLUSTER"))
  md <- model_frame(ag, cox_cov)
  md$TSTART <- ag$TSTART; md$TSTOP <- ag$TSTOP; md$EVENT <- ag$EVENT; md$id <- ag$USUBJID
  md$CLUSTER <- ag$CLUSTER
  for (v in strata_vars) md[[v]] <- ag[[v]]
  # the zero-length row of a participant with no time at risk is never at risk (Surv()
  # would make it NA with a warning); it still counts as a participant (n)
  md <- md[md$TSTOP > md$TSTART | md$EVENT == 1, ]
  fit <- coxph(as.formula(paste("Surv(TSTART, TSTOP, EVENT) ~", rhs(cox_cov),
                                strata_term())), md, cluster = id, ties = "efron",
               control = ctl_cox)
  add_ratio("recurrent_readmission", "readmissions (Andersen-Gill)", contrast,
            "hazard_ratio", coef(fit)[["ARM"]], sqrt(fit$var[1, 1]),
            length(unique(ag$USUBJID)), sum(ag$EVENT))
  fit <- coxph(as.formula(paste("Surv(TSTART, TSTOP, EVENT) ~", rhs(cox_cov),
                                strata_term())), md, cluster = CLUSTER, ties = "efron",
               control = ctl_cox)
  with_cluster(function()
    add_ratio("recurrent_readmission", "readmissions (Andersen-Gill)", contrast,
              "hazard_ratio", coef(fit)[["ARM"]], sqrt(fit$var[1, 1]),
              length(unique(ag$USUBJID)), sum(ag$EVENT)))
}

# ---------------------------------------------------------------- days in hospital
hospital_days <- function() {
  pp <- with_adsl(per_participant(c("BEDDAYS", "NREADM")), "ARM")
  B <- as.integer(par$n_boot)
  q <- c(0.025, 0.975)
  boot <- list()
  for (k in 1:2) {
    arm <- c(trt, ctl)[k]
    m <- pp$ARM == arm
    x <- pp$BEDDAYS[m]
    f <- file.path(boot_dir, c("boot_treated.bin", "boot_control.bin")[k])
    idx <- matrix(readBin(f, "integer", B * length(x), size = 4, endian = "little"),
                  nrow = B, byrow = TRUE) + 1L
    bx <- matrix(x[idx], nrow = B)
    bm <- rowMeans(bx); bmed <- apply(bx, 1, median)
    e <- NA  # days are not events (the readmitted are in n_readmitted)
    ci <- quantile(bm, q, type = 7, names = FALSE)
    add("days_in_hospital", "BEDDAYS", arm, "mean", mean(x), ci[1], ci[2], NA, length(x), e,
        sd(bm))
    ci <- quantile(bmed, q, type = 7, names = FALSE)
    add("days_in_hospital", "BEDDAYS", arm, "median", median(x), ci[1], ci[2], NA,
        length(x), e, sd(bmed))
    boot[[k]] <- list(bm = bm, mean = mean(x), n = length(x), e = e)
  }
  bd <- boot[[1]]$bm - boot[[2]]$bm
  diff <- boot[[1]]$mean - boot[[2]]$mean
  ci <- quantile(bd, q, type = 7, names = FALSE)
  add("days_in_hospital", "BEDDAYS", contrast, "mean_difference", diff, ci[1], ci[2],
      2 * pnorm(-abs(diff / sd(bd))), boot[[1]]$n + boot[[2]]$n, NA, sd(bd))
  # the cluster bootstrap (clustering = peer_worker): whole caseloads of the treated arm,
  # participants without a peer worker as units of one; the control replicates as above
  tr <- with_adsl(pp[pp$ARM == trt, ], "CLUSTER")
  labels <- sort(unique(tr$CLUSTER), method = "radix")  # the pipeline's unit order
  code <- match(tr$CLUSTER, labels)
  G <- length(labels)
  f <- file.path(boot_dir, "boot_treated_units.bin")
  uidx <- matrix(readBin(f, "integer", B * G, size = 4, endian = "little"), nrow = B,
                 byrow = TRUE) + 1L
  x <- tr$BEDDAYS
  bm <- bmed <- numeric(B)
  for (b in 1:B) {
    bx <- rep(x, tabulate(uidx[b, ], G)[code])
    bm[b] <- mean(bx); bmed[b] <- median(bx)
  }
  with_cluster(function() {
    ci <- quantile(bm, q, type = 7, names = FALSE)
    add("days_in_hospital", "BEDDAYS", trt, "mean", boot[[1]]$mean, ci[1], ci[2], NA,
        boot[[1]]$n, NA, sd(bm))
    ci <- quantile(bmed, q, type = 7, names = FALSE)
    add("days_in_hospital", "BEDDAYS", trt, "median", median(x), ci[1], ci[2], NA,
        boot[[1]]$n, NA, sd(bmed))
    bd <- bm - boot[[2]]$bm
    ci <- quantile(bd, q, type = 7, names = FALSE)
    add("days_in_hospital", "BEDDAYS", contrast, "mean_difference", diff, ci[1], ci[2],
        2 * pnorm(-abs(diff / sd(bd))), boot[[1]]$n + boot[[2]]$n, NA, sd(bd))
  })
}

prim_o <- paste("READMIT within", H, "days")
primary(par$primary_strategy, "primary", prim_o)
for (s in setdiff(par$sensitivity_strategies, par$primary_strategy))
  primary(s, "primary_sensitivity", paste0(prim_o, " (", s, ")"))
for (p in c("READMIT", "READMDET"))
  if (any(adtte$PARAMCD == p))
    tenure(p, c(READMIT = "community_tenure", READMDET = "detained_readmission")[[p]])
competing()
recurrent()
hospital_days()
write.table(do.call(rbind, rows), args[4], sep = "\t", row.names = FALSE, quote = FALSE,
            na = "NA")

# ---------------------------------------------------------------- questionnaire ANCOVA
rows <- list()
strat <- par$stratifiers
base <- adsl[, c("USUBJID", "ARM", strat)]
for (pcd in sort(unique(adqs$PARAMCD), method = "radix")) {
  r <- adqs[adqs$PARAMCD == pcd, ]
  bl <- r[r$ABLFL %in% "Y", c("USUBJID", "AVAL")]; names(bl)[2] <- "BASE"
  for (v in par$visits) {
    fu <- r[r$AVISIT %in% v, c("USUBJID", "AVAL")]
    if (sum(!is.na(fu$AVAL)) < 3) next
    d <- merge(merge(base, fu, by = "USUBJID", all.x = TRUE), bl, by = "USUBJID",
               all.x = TRUE)
    d <- d[d$ARM %in% c(trt, ctl) & !is.na(d$AVAL) & !is.na(d$BASE), ]
    d$TRT <- as.numeric(d$ARM == trt)
    e <- ancova_effects(d, strat)  # the difference, each arm's adjusted mean, Hedges' g
    arm <- c(difference = contrast, treated = trt, control = ctl)[e$arm]
    for (k in seq_len(nrow(e)))
      add("questionnaire_ancova", paste(pcd, v), arm[[k]], e$type[k], e$estimate[k],
          e$ci_low[k], e$ci_high[k], e$p_value[k], e$n[k], NA,
          e$std_error[k])
  }
}
write.table(do.call(rbind, rows), args[5], sep = "\t", row.names = FALSE, quote = FALSE,
            na = "NA")
