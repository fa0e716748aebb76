# Stage 6: provenance and the report (docs/report.md); every output of every stage: docs/results.md.


rule provenance:
    """Checksums of every input file, the plan and its hash, seeds, versions, git commit."""
    input:
        tables=[data_file(t) for t in INPUT_TABLES],
        explanations=explanations_input(),
        plan=rules.analysis_plan.output.plan,
        results=[
            rules.survival.output.table,
            rules.questionnaire_ancova.output.table,
            rules.mediation_gather.output.table,
            rules.multiplicity.output.table,
        ],
    output:
        provenance=f"{RESULTS}/provenance.json",
    log:
        f"{RESULTS}/logs/provenance.log",
    benchmark:
        benchmark_file("provenance")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("provenance"),
        runtime=stage_runtime("provenance"),
    params:
        cli=OUTCOMES,
    shell:
        "{params.cli} provenance --plan {input.plan:q} --inputs {input.tables:q} {input.explanations:q}"
        " --out {output.provenance:q} > {log:q} 2>&1"


rule report:
    """The self-contained trial report (results/report/index.html), rendered, not recomputed,
    with its tables (CSV, Word) and figures (SVG, PNG) as files beside it."""
    input:
        plan=rules.analysis_plan.output.plan,
        adam=rules.derive_adam.output.adam,
        validation=[
            rules.validate.output.summary,
            rules.validate.output.explained,
            rules.validate.output.accounting,
            rules.validate.output.status,
        ],
        survival=rules.survival.output,
        questionnaires=rules.questionnaire_ancova.output.table,
        tipping=(
            rules.tipping_point.output
            if config["missing_data"]["method"] == "mi"
            else []
        ),
        engagement=rules.engagement.output,
        mediation=rules.mediation_gather.output.table,
        sensitivity=rules.mediation_gather.output.sensitivity,
        multiplicity=rules.multiplicity.output.table,
        provenance=rules.provenance.output.provenance,
    output:
        html=report(
            f"{RESULTS}/report/index.html",
            caption="../report/trial_report.rst",
            category="Trial report",
        ),
        # the report's tables and figures as files (docs/report.md, "Export")
        tables=directory(f"{RESULTS}/report/tables"),
        figures=directory(f"{RESULTS}/report/figures"),
        docx=f"{RESULTS}/report/report_tables.docx",
        contents=f"{RESULTS}/report/contents.tsv",
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        benchmark_file("report")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("report"),
        runtime=stage_runtime("report"),
    params:
        cli=OUTCOMES,
        results=lambda wildcards, input: Path(input.plan).parent,
    shell:
        "{params.cli} report --results {params.results:q} --out {output.html:q} --export"
        " > {log:q} 2>&1"
