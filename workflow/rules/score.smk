# Stage 3: questionnaire outcomes. Scores are computed in ADQS (derive.smk, from the
# instrument registry); here each score at each follow-up visit is analysed by ANCOVA
# (docs/questionnaires.md): by complete cases and, when the plan's missing_data.method is
# mi, pooled over the completed data sets of the impute rule (impute.smk), each MI row
# before its complete-case row.


rule questionnaire_ancova:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
        imputed=rules.impute.output.imputed if MI else [],
    output:
        table=report(
            f"{RESULTS}/tables/questionnaires.tsv",
            caption="../report/questionnaires_table.rst",
            category="Questionnaires",
        ),
    log:
        f"{RESULTS}/logs/questionnaire_ancova.log",
    benchmark:
        benchmark_file("questionnaire_ancova")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("questionnaire_ancova"),
        runtime=stage_runtime("questionnaire_ancova"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        imputed=lambda wildcards, input: ["--imputed", input.imputed] if MI else [],
    shell:
        "{params.cli} questionnaires --derived {params.derived:q} --plan {input.plan:q}"
        " {params.imputed:q} --out {output.table:q} > {log:q} 2>&1"
