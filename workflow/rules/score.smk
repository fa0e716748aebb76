# Stage 3: questionnaire outcomes. Scores are computed in ADQS (derive.smk, from the
# instrument registry); here each score at each follow-up visit is analysed by ANCOVA
# (docs/questionnaires.md).


rule questionnaire_ancova:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        table=report(
            f"{RESULTS}/tables/questionnaires.tsv",
            caption="../report/questionnaires_table.rst",
            category="Questionnaires",
        ),
    log:
        f"{RESULTS}/logs/questionnaire_ancova.log",
    conda:
        "../envs/outcomes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
    shell:
        "{params.cli} questionnaires --derived {params.derived:q} --plan {input.plan:q}"
        " --out {output.table:q} > {log:q} 2>&1"
