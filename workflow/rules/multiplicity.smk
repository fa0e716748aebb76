# Stage 5b: multiplicity (docs/multiplicity.md). After the analyses, the plan's hierarchy
# of hypotheses (primary, key secondary behind it, other) is tested on the rows of the
# results tables it names, and the adjusted p-values are written to multiplicity.tsv.


rule multiplicity:
    input:
        tables=multiplicity_tables(),
        plan=rules.analysis_plan.output.plan,
    output:
        table=report(
            f"{RESULTS}/tables/multiplicity.tsv",
            caption="../report/multiplicity_table.rst",
            category="Multiplicity",
        ),
    log:
        f"{RESULTS}/logs/multiplicity.log",
    benchmark:
        benchmark_file("multiplicity")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("multiplicity"),
        runtime=stage_runtime("multiplicity"),
    params:
        cli=OUTCOMES,
        tables=lambda wildcards, output: Path(output.table).parent,
    shell:
        "{params.cli} multiplicity --plan {input.plan:q} --tables {params.tables:q}"
        " --out {output.table:q} > {log:q} 2>&1"
