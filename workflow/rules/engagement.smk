# Stage 4b: engagement with peer support (docs/engagement.md, docs/cace.md): the
# distribution of the contacts and of receipt (ADSL ENGFL, the plan's engagement.receipt)
# by arm, and the estimates table of the engagement analyses (cace.tsv): the complier
# average causal effect and the effect per contact of every outcome (randomisation as the
# instrument; the questionnaire rows pooled over the impute rule's completed data sets
# when the plan's missing_data.method is mi), then the per-protocol and as-treated
# comparisons, biased comparisons labelled as such.


rule engagement:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
        imputed=rules.impute.output.imputed if MI else [],
    output:
        engagement=f"{RESULTS}/tables/engagement.tsv",
        cace=f"{RESULTS}/tables/cace.tsv",
    log:
        f"{RESULTS}/logs/engagement.log",
    benchmark:
        benchmark_file("engagement")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("engagement"),
        runtime=stage_runtime("engagement"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        tables=lambda wildcards, output: Path(output.cace).parent,
        imputed=lambda wildcards, input: ["--imputed", input.imputed] if MI else [],
    shell:
        "{params.cli} engagement --derived {params.derived:q} --plan {input.plan:q}"
        " {params.imputed:q} --tables {params.tables:q} > {log:q} 2>&1"
