# outcomes: from a raw trial extract to validated data, analysis datasets and results.
# Entry point only: config validation lives in workflow/rules/common.smk, one file per stage.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/derive.smk"
include: "workflow/rules/impute.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/tipping.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/engagement.smk"
include: "workflow/rules/mediation.smk"
include: "workflow/rules/multiplicity.smk"
include: "workflow/rules/report.smk"


# Jobs too small to be worth a cluster submission.
localrules:
    all,
    analysis_plan,
    multiplicity,
    validation_gate,


rule all:
    default_target: True
    input:
        rules.validate.output,
        rules.derive_adam.output,
        rules.adam_transport.output,
        rules.questionnaire_ancova.output,
        rules.impute.output.summary if MI else [],
        rules.tipping_point.output if MI else [],
        rules.survival.output,
        rules.engagement.output,
        rules.mediation_gather.output,
        rules.multiplicity.output,
        rules.provenance.output,
        rules.report.output,
