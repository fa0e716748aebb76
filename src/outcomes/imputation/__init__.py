"""Multiple imputation of missing questionnaire scores (docs/imputation.md).

``frame`` builds the wide data set to impute, ``settings`` holds the imputation model's
settings, ``mice`` runs chained equations and returns the completed data sets.
"""
