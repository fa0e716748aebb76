# Stage 3b: the tipping-point analysis of the questionnaire outcomes the plan names
# (missing_data.tipping_point; docs/imputation.md, Tipping-point analysis): δ-adjusted
# multiple imputation over a grid of shifts of each arm, one table and one heat map per
# score x visit. Run when missing_data.method is mi. With delta_mode final (the default)
# every grid point shifts the impute rule's completed data sets (imputed_long.parquet);
# with post every grid point is imputed again.


TIPPING_OUTCOMES = tipping_outcomes()


rule tipping_point:
    input:
        imputed=rules.impute.output.imputed,
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        table=report(
            f"{RESULTS}/tables/tipping_point.tsv",
            caption="../report/tipping_point.rst",
            category="Questionnaires",
        ),
        figures=expand(
            f"{RESULTS}/figures/tipping_point_{{paramcd}}_{{visit}}.svg",
            zip,
            paramcd=[p for p, _ in TIPPING_OUTCOMES],
            visit=[v for _, v in TIPPING_OUTCOMES],
        ),
    log:
        f"{RESULTS}/logs/tipping_point.log",
    benchmark:
        benchmark_file("tipping_point")
    threads: 1
    # measured on the bundled trial at m = 50, 9 x 9 grid, reading the data sets: 30 s, 370 MB
    resources:
        mem_mb=stage_mem_mb("tipping_point"),
        runtime=stage_runtime("tipping_point"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        figures=lambda wildcards, output: Path(output.table).parent.parent / "figures",
    shell:
        "{params.cli} tipping --derived {params.derived:q} --plan {input.plan:q}"
        " --imputed {input.imputed:q} --table {output.table:q} --figures {params.figures:q}"
        " > {log:q} 2>&1"
