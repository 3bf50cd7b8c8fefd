{#-
    E-mail pseudonyms are not computed here: the quality gate adds `email_hash`
    (lower-case hex SHA-256 of the salt immediately followed by the trimmed,
    lower-cased address; null for a null or blank address) to the accepted
    customers, so that the salt is never written into a model, a view or
    dbt's target folder.
-#}

{#-
    Masks e-mail addresses as `[email]`, IBANs as `[iban]` and phone numbers as
    `[phone]`, with the patterns of cx_insights/privacy.py (`mask_pii`, which
    the reports apply to text from raw and quarantine): `pii_patterns()` is
    generated from that module, so SQL and Python mask the same text alike
    (tests/test_privacy.py runs one list of cases through both). The patterns
    hold no backslash; a replacement's group reference `\1` is `$1` on Spark.
-#}
{% macro mask_pii_text(text) -%}
    {%- set masked = namespace(sql=text) -%}
    {%- for name, pattern, replacement in pii_patterns() -%}
        {%- if on_spark() -%}
            {%- set replacement = replacement | replace('\\1', '$1') -%}
        {%- endif -%}
        {%- set masked.sql = regexp_replace_all(masked.sql, pattern, replacement) -%}
    {%- endfor -%}
    {{ masked.sql }}
{%- endmacro %}
