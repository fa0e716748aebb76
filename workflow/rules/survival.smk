# Stage 4: readmission and community tenure (docs/survival.md): primary outcome, Kaplan-Meier,
# log-rank, Cox, RMST, competing risk of death, recurrent readmissions, days in hospital.


rule survival:
    input:
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        table=report(
            f"{RESULTS}/tables/survival.tsv",
            caption="../report/survival_table.rst",
            category="Community tenure",
        ),
        km_readmit=report(
            f"{RESULTS}/figures/km_readmit.svg",
            caption="../report/km_readmit.rst",
            category="Community tenure",
        ),
        km_readmdet=f"{RESULTS}/figures/km_readmdet.svg",
        cif_readmit=report(
            f"{RESULTS}/figures/cif_readmit.svg",
            caption="../report/cif_readmit.rst",
            category="Community tenure",
        ),
        forest=report(
            f"{RESULTS}/figures/forest_survival.svg",
            caption="../report/forest_survival.rst",
            category="Community tenure",
        ),
    log:
        f"{RESULTS}/logs/survival.log",
    benchmark:
        benchmark_file("survival")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("survival"),
        runtime=stage_runtime("survival"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        tables=lambda wildcards, output: Path(output.table).parent,
        figures=lambda wildcards, output: Path(output.forest).parent,
    shell:
        "{params.cli} survival --derived {params.derived:q} --plan {input.plan:q}"
        " --tables {params.tables:q} --figures {params.figures:q} > {log:q} 2>&1"
