{#-
    Generated from cx_insights/privacy.py by `python -m cx_insights.privacy`:
    do not edit (tests/test_privacy.py fails when this file and the module differ).
    (name, pattern, replacement) in the order `mask_pii_text` applies them;
    `\1` in a replacement is group 1. The character classes hold non-ASCII
    letters, full-width digits and separators as themselves: see the module.
-#}
{% macro pii_patterns() -%}
    {{ return([
        ('email', '[A-Za-z0-9._%+À-ÖØ-öø-῾Ⰰ-ⷞぁ-힣-]+[@＠][A-Za-z0-9À-ÖØ-öø-῾Ⰰ-ⷞぁ-힣-]+(?:[.][A-Za-z0-9À-ÖØ-öø-῾Ⰰ-ⷞぁ-힣-]+)*[.][A-Za-zÀ-ÖØ-öø-῾Ⰰ-ⷞぁ-힣][A-Za-z0-9À-ÖØ-öø-῾Ⰰ-ⷞぁ-힣-]+', '[email]'),
        ('iban', '[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?', '[iban]'),
        ('phone', '[+＋]?[(（]?[0-9０-９](?:[ .()/  –　（）．／－-]{0,3}[0-9０-９]){8,}([^0-9０-９:：]|[:：][^0-9０-９]|[:：]?$)', '[phone]\\1'),
    ]) }}
{%- endmacro %}
