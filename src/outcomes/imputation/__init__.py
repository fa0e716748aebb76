"""Multiple imputation of missing questionnaire scores and analyses over the imputations.

``frame`` builds the wide data set to impute, ``settings`` holds the imputation model's
settings, ``mice`` runs chained equations and returns the completed data sets
(docs/imputation.md); ``pool`` applies Rubin's rules with the Barnard–Rubin degrees of
freedom and ``ancova`` fits the questionnaire ANCOVA on each completed data set and pools
it (docs/questionnaires.md, *Pooling over imputations*).
"""
