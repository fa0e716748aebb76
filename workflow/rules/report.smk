# Stage 6: provenance and the report (DESIGN §9).


rule provenance:
    """Checksums of every input file, the plan and its hash, seeds, versions, git commit."""
    input:
        tables=[data_file(t) for t in INPUT_TABLES],
        plan=rules.analysis_plan.output.plan,
        results=[rules.survival.output.table, rules.questionnaire_ancova.output.table],
    output:
        provenance=f"{RESULTS}/provenance.json",
    log:
        f"{RESULTS}/logs/provenance.log",
    conda:
        "../envs/outcomes.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cli=OUTCOMES,
    shell:
        "{params.cli} provenance --plan {input.plan} --inputs {input.tables}"
        " --out {output.provenance} > {log} 2>&1"
