"""Multiple imputation of missing questionnaires and analyses over the imputations.

``pool``: Rubin's rules with the Barnard–Rubin degrees of freedom; ``ancova``: the
questionnaire ANCOVA fitted on each completed dataset and pooled. See
docs/questionnaires.md (Pooling over imputations).
"""
