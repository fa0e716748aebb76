# Stage 5: the change model (docs/change-model.md): does peer support work through the mechanisms?
# Methods: docs/mediation.md.
# One job per (mediator set x outcome), run in a few batches so that a cluster can spread
# them; each reads the one analysis data set (admed) instead of re-deriving anything.

MEDIATION_JOBS = mediation_jobs()
MEDIATION_BATCHES = mediation_batches(MEDIATION_JOBS, MEDIATION_BATCH_COUNT)
# missing_data.method mi: mediation_data also writes the m completed analysis data sets,
# built from the impute rule's completed data sets (one imputation per run, shared with
# the questionnaire analysis), and every job pools over them.


rule mediation_data:
    input:
        **({"completed": rules.impute.output.imputed} if MI else {}),
        adam=rules.derive_adam.output.adam,
        plan=rules.analysis_plan.output.plan,
    output:
        **({"imputed": f"{RESULTS}/derived/admed_imputed.parquet"} if MI else {}),
        data=f"{RESULTS}/derived/admed.parquet",
    log:
        f"{RESULTS}/logs/mediation_data.log",
    benchmark:
        benchmark_file("mediation_data")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("mediation_data"),
        runtime=stage_runtime("mediation_data"),
    params:
        cli=OUTCOMES,
        derived=lambda wildcards, input: Path(input.adam[0]).parent,
        imputed=lambda wildcards, input, output: (
            f"--imputed {shlex.quote(input.completed)} --imputed-out {shlex.quote(output.imputed)}"
            if MI
            else ""
        ),
    shell:
        "{params.cli} mediation-data --derived {params.derived:q} --plan {input.plan:q}"
        " --out {output.data:q} {params.imputed} > {log:q} 2>&1"


# The (mediator set x outcome) jobs run in batches, one process each (mediation.batches,
# docs/pipeline.md "Mediation batches"): each process pays the imports and reads the data
# once for its jobs, and writes every job's three files as a job of its own would.
# outcomes.resources.mediation_batches balances their CPU (readmit_time jobs cost ~2.5x).
for _number, _jobs in enumerate(MEDIATION_BATCHES, 1):

    rule:
        name:
            f"mediation_batch_{_number}"
        input:
            **({"imputed": rules.mediation_data.output.imputed} if MI else {}),
            data=rules.mediation_data.output.data,
            plan=rules.analysis_plan.output.plan,
        output:
            estimates=[f"{RESULTS}/mediation/{m}__{o}.tsv" for m, o in _jobs],
            sensitivity=[
                f"{RESULTS}/mediation/{m}__{o}.sensitivity.tsv" for m, o in _jobs
            ],
            report=[f"{RESULTS}/mediation/{m}__{o}.json" for m, o in _jobs],
        log:
            f"{RESULTS}/logs/mediation/batch_{_number}.log",
        benchmark:
            benchmark_file(f"mediation/batch_{_number}")
        threads: 1
        resources:
            mem_mb=stage_mem_mb("mediation_job"),
            runtime=stage_runtime("mediation_job", jobs=len(_jobs)),
        params:
            cli=OUTCOMES,
            jobs=[word for m, o in _jobs for word in ("--job", m, o)],
            out_dir=lambda wildcards, output: Path(output.estimates[0]).parent,
            imputed=lambda wildcards, input: (
                f"--imputed {shlex.quote(input.imputed)}" if MI else ""
            ),
        shell:
            "{params.cli} mediation --data {input.data:q} --plan {input.plan:q}"
            " {params.jobs:q} --out-dir {params.out_dir:q} {params.imputed} > {log:q} 2>&1"


rule mediation_gather:
    input:
        jobs=[f"{RESULTS}/mediation/{m}__{o}.tsv" for m, o in MEDIATION_JOBS],
        sensitivity=[
            f"{RESULTS}/mediation/{m}__{o}.sensitivity.tsv" for m, o in MEDIATION_JOBS
        ],
        plan=rules.analysis_plan.output.plan,
    output:
        table=report(
            f"{RESULTS}/tables/mediation.tsv",
            caption="../report/mediation_table.rst",
            category="Change model",
        ),
        sensitivity=f"{RESULTS}/tables/mediation_sensitivity.tsv",
        models=f"{RESULTS}/tables/mediation_models.json",
        figures=report(
            expand(
                f"{RESULTS}/figures/mediation_{{outcome}}.svg",
                outcome=config["mediation"]["outcomes"],
            ),
            caption="../report/mediation.rst",
            category="Change model",
        ),
    log:
        f"{RESULTS}/logs/mediation_gather.log",
    benchmark:
        benchmark_file("mediation_gather")
    threads: 1
    resources:
        mem_mb=stage_mem_mb("mediation_gather"),
        runtime=stage_runtime("mediation_gather"),
    params:
        cli=OUTCOMES,
        tables=lambda wildcards, output: Path(output.table).parent,
        figures=lambda wildcards, output: Path(output.figures[0]).parent,
    shell:
        "{params.cli} mediation-gather --plan {input.plan:q} --jobs {input.jobs:q}"
        " --tables {params.tables:q} --figures {params.figures:q} > {log:q} 2>&1"
