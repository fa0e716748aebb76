# Stage 4b: engagement with peer support (docs/engagement.md): the distribution of the
# contacts and of receipt (ADSL ENGFL, the plan's engagement.receipt) by arm, and the
# estimates table of the engagement analyses (cace.tsv): for now the per-protocol and
# as-treated comparisons, biased comparisons labelled as such.


rule engagement:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        engagement=f"{RESULTS}/tables/engagement.tsv",
        cace=f"{RESULTS}/tables/cace.tsv",
    log:
        f"{RESULTS}/logs/engagement.log",
    conda:
        "../envs/outcomes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        tables=lambda wildcards, output: Path(output.cace).parent,
    shell:
        "{params.cli} engagement --derived {params.derived:q} --plan {input.plan:q}"
        " --tables {params.tables:q} > {log:q} 2>&1"
