# Stage 2: the analysis plan and the ADaM analysis datasets (docs/adam.md).


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


rule derive_adam:
    """ADSL, ADQS, ADTTE and ADRE from the validated extract (questionnaires scored here)."""
    input:
        passed=rules.validation_gate.output.passed,
        clean=rules.validate.output.clean,
        plan=rules.analysis_plan.output.plan,
    output:
        adam=expand(f"{RESULTS}/derived/{{ds}}.parquet", ds=ADAM_DATASETS),
    log:
        f"{RESULTS}/logs/derive_adam.log",
    conda:
        "../envs/outcomes.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        cli=OUTCOMES,
        clean_dir=lambda wildcards, input: Path(input.clean[0]).parent,
        out_dir=lambda wildcards, output: Path(output.adam[0]).parent,
    shell:
        "{params.cli} derive --clean {params.clean_dir:q} --plan {input.plan:q}"
        " --out {params.out_dir:q} > {log:q} 2>&1"
