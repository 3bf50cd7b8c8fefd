{#-
    E-mail pseudonym: lower-case hex SHA-256 of the salt immediately followed by
    the trimmed, lower-cased address, with no separator:
        sha256_hex(var('pii_salt') || lower(trim(email)))
    A null or blank address gives null.
-#}
{% macro pii_email_hash(email) -%}
    case
        when nullif(trim({{ email }}), '') is not null
            then {{ sha256_hex(dbt.concat([sql_string(var('pii_salt')), 'lower(trim(' ~ email ~ '))'])) }}
    end
{%- endmacro %}

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
