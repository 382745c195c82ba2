"""Words of the annual activity report, in French and English. Pure data."""

from __future__ import annotations

LANGUAGES = ("fr", "en")

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport d'activité {year}",
        "headline": "Chiffres clés",
        "persons": "Personnes accompagnées",
        "cases_opened": "Dossiers ouverts",
        "cases_closed": "Dossiers clos",
        "contacts": "Contacts",
        "remote_share": "Demandes résolues à distance",
        "interviews": "Entretiens",
        "persons_detained": "Personnes rencontrées en rétention ou en détention",
        "missed_rate": "Délais manqués",
        "by_office": "Par lieu d'accueil",
        "by_procedure": "Par procédure",
        "by_gender_detained": "Personnes en rétention ou détention, par genre",
        "monthly": "Dossiers ouverts par mois",
        "office": "Lieu d'accueil",
        "procedure": "Procédure",
        "gender": "Genre",
        "month": "Mois",
        "value": "{year}",
        "previous": "{previous}",
        "change": "Évolution",
        "suppressed": "Les effectifs inférieurs à {threshold}, et ceux qui permettraient de les "
        "retrouver, sont masqués (—).",
        "legend_current": "{year} (plein, ronds)",
        "legend_previous": "{previous} (hachuré, tirets, carrés)",
        "csv": "Télécharger les chiffres (CSV)",
        "print": "Imprimer ou enregistrer en PDF",
    },
    "en": {
        "title": "Activity report {year}",
        "headline": "Key figures",
        "persons": "People accompanied",
        "cases_opened": "Cases opened",
        "cases_closed": "Cases closed",
        "contacts": "Contacts",
        "remote_share": "Requests resolved remotely",
        "interviews": "Interviews",
        "persons_detained": "People met in immigration detention or prison",
        "missed_rate": "Deadlines missed",
        "by_office": "By office",
        "by_procedure": "By procedure",
        "by_gender_detained": "People in detention or prison, by gender",
        "monthly": "Cases opened per month",
        "office": "Office",
        "procedure": "Procedure",
        "gender": "Gender",
        "month": "Month",
        "value": "{year}",
        "previous": "{previous}",
        "change": "Change",
        "suppressed": "Counts under {threshold}, and those that would let someone work them out, "
        "are hidden (—).",
        "legend_current": "{year} (solid, circles)",
        "legend_previous": "{previous} (hatched, dashed, squares)",
        "csv": "Download the figures (CSV)",
        "print": "Print or save as PDF",
    },
}

VALUES: dict[str, dict[str, str]] = {
    "fr": {
        "asylum": "Asile",
        "removal_appeal": "Recours contre l'éloignement",
        "residence_permit_first": "Premier titre de séjour",
        "residence_permit_renewal": "Renouvellement de titre",
        "family_reunification": "Regroupement familial",
        "detention_assistance": "Aide en rétention",
        "prison_assistance": "Aide en détention",
        "assisted_voluntary_return": "Aide au retour volontaire",
        "litigation": "Contentieux",
        "other": "Autre",
        "female": "Femmes",
        "male": "Hommes",
        "not_stated": "Non renseigné",
        "none": "Non renseigné",
    },
    "en": {
        "asylum": "Asylum",
        "removal_appeal": "Removal appeal",
        "residence_permit_first": "First residence permit",
        "residence_permit_renewal": "Permit renewal",
        "family_reunification": "Family reunification",
        "detention_assistance": "Detention assistance",
        "prison_assistance": "Prison assistance",
        "assisted_voluntary_return": "Assisted voluntary return",
        "litigation": "Litigation",
        "other": "Other",
        "female": "Women",
        "male": "Men",
        "not_stated": "Not stated",
        "none": "Not stated",
    },
}


def value_label(language: str, value: str) -> str:
    return VALUES[language].get(value, value)
