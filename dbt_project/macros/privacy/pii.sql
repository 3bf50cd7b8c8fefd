{#-
    E-mail pseudonyms are not computed here: the quality gate adds `email_hash`
    (lower-case hex SHA-256 of the salt immediately followed by the trimmed,
    lower-cased address; null for a null or blank address) to the accepted
    customers, so that the salt is never written into a model, a view or
    dbt's target folder.
-#}

{#-
    Masks e-mail addresses as `[email]`, then phone-like runs of 9 or more
    digits (optionally led by `+` or `(`, digits separated by up to two of
    space . / ( ) -) as `[phone]`. Patterns avoid backslashes so that they
    read the same on every engine.
-#}
{% macro mask_pii_text(text) -%}
    {{ regexp_replace_all(
        regexp_replace_all(text, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+[.][A-Za-z]{2,}', '[email]'),
        '[+]?[(]?[0-9](?:[ ./()-]{0,2}[0-9]){8,}',
        '[phone]'
    ) }}
{%- endmacro %}
