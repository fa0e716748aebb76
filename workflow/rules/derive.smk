# Stage 2: the analysis plan and the ADaM analysis datasets (docs/adam.md).


rule analysis_plan:
    """The validated config with its defaults: what every analysis command reads. A shell
    job (not `run:`): a `run:` job starts a second Snakemake, plugins and all."""
    output:
        plan=f"{RESULTS}/plan.json",
    log:
        f"{RESULTS}/logs/analysis_plan.log",
    benchmark:
        benchmark_file("analysis_plan")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("analysis_plan"),
        runtime=stage_runtime("analysis_plan"),
    params:
        cli=OUTCOMES,
        plan=json.dumps(PLAN_CONFIG, sort_keys=True),
    shell:
        "{params.cli} plan --config-json {params.plan:q} --out {output.plan:q} > {log:q} 2>&1"


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
    benchmark:
        benchmark_file("derive_adam")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("derive_adam"),
        runtime=stage_runtime("derive_adam"),
    params:
        cli=OUTCOMES,
        clean_dir=lambda wildcards, input: Path(input.clean[0]).parent,
        out_dir=lambda wildcards, output: Path(output.adam[0]).parent,
    shell:
        "{params.cli} derive --clean {params.clean_dir:q} --plan {input.plan:q}"
        " --out {params.out_dir:q} > {log:q} 2>&1"
