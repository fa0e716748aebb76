"""The competing-risks block of the readmission section: its cumulative-incidence figure
(``figures/cif_readmit.svg``, :func:`outcomes.survival.plots.cumulative_incidence_plot`)
and the note that says how the Fine–Gray model and Gray's test were fitted."""

from __future__ import annotations

from outcomes.labels import variable_words

from .inputs import ReportInputs

#: The figure's name under ``figures/`` (without ``.svg``).
FIGURE = "cif_readmit"
CAPTION = ("Aalen–Johansen cumulative incidence of readmission (solid) and of death before "
           "readmission (dashed) by arm, with Gray's test of the readmission curves and the "
           "Fine–Gray subdistribution hazard ratio (95% CI) above the plot.")


def add_competing_figure(blocks: list, inp: ReportInputs) -> None:
    """Put the cumulative-incidence figure and the model note on the ``competing_risks``
    block (a notice when the figure is missing)."""
    from .svg import inline_svg

    s = inp.plan.survival
    for b in blocks:
        if b.key != "competing_risks":
            continue
        if FIGURE in inp.figures:
            b.figure = inline_svg(inp.figures[FIGURE], FIGURE, label=CAPTION)
            b.figure_caption = CAPTION
        else:
            b.notes.append(f"Figure figures/{FIGURE}.svg not found.")
        strata = f"stratified by {variable_words(s['strata'])}" if s["strata"] else "unstratified"
        b.notes.append(
            "Death is the competing event. Fine–Gray subdistribution hazard ratio "
            f"{strata} (a baseline and a censoring distribution per stratum), adjusted for "
            f"{variable_words(s['cox_covariates'], 'no covariate')}, Breslow ties, sandwich "
            f"variance as R cmprsk::crr; Gray's test {strata}.")
