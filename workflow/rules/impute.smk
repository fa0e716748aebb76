# Stage 3a: multiple imputation of the missing questionnaire scores (docs/imputation.md),
# run when the plan's missing_data.method is mi. The completed data sets pass to the
# questionnaire analysis, the mediation data and the tipping-point grid as one long
# Parquet file (.imp 0..m); it is kept for audit when
# missing_data.write_imputed is true, else Snakemake deletes it once its consumers ran
# (it is rebuilt byte for byte from the same derived data and plan).


rule impute:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        summary=f"{RESULTS}/imputation/imputation_summary.tsv",
        imputed=kept_if_asked(f"{RESULTS}/imputation/imputed_long.parquet"),
    log:
        f"{RESULTS}/logs/impute.log",
    benchmark:
        benchmark_file("impute")
    threads: 1
    # measured on the bundled trial at m = 50, 10 sweeps: 30 s, 250 MB peak
    resources:
        mem_mb=stage_mem_mb("impute"),
        runtime=stage_runtime("impute"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
    shell:
        "{params.cli} impute --derived {params.derived:q} --plan {input.plan:q}"
        " --out {params.out_dir:q} --write-imputed > {log:q} 2>&1"
