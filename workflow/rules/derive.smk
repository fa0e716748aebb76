# Stage 2: the analysis plan and the ADaM analysis datasets (DESIGN §6).


rule analysis_plan:
    """The validated config with its defaults: what every analysis command reads."""
    output:
        plan=f"{RESULTS}/plan.json",
    log:
        f"{RESULTS}/logs/analysis_plan.log",
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        plan=config,
    run:
        from outcomes.plan import write_plan

        write_plan(params.plan, output.plan, log[0])
