# Mean cumulative function of recurrent events by arm: Nelson-Aalen cumulative hazard of
# the counting-process rows with the robust (grouped by id) standard error
# (tests/test_survival_mcf.py). Usage: Rscript mcf.R in.csv out.csv
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d <- d[d$TSTOP > d$TSTART, ]  # zero-length intervals hold no time at risk
f <- survfit(Surv(TSTART, TSTOP, EVENT) ~ ARM, data = d, id = USUBJID)
s <- summary(f, censored = FALSE)
out <- data.frame(arm = sub("ARM=", "", as.character(s$strata)), time = s$time,
                  at_risk = s$n.risk, events = s$n.event, mcf = s$cumhaz,
                  std_err = s$std.chaz)
write.csv(out, args[2], row.names = FALSE)
