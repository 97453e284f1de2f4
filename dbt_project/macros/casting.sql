{#
    Casts from the raw text columns. Ingest validation already quarantines rows
    whose declared types do not parse, so these macros mainly guard against blank
    cells and odd spacing: anything that does not look like the expected shape
    becomes NULL instead of failing the whole view.
    (An impossible calendar date such as 20240231 still matches the shape and
    would raise; validation rejects those upstream.)
#}

{# Trimmed text, '' -> NULL. #}
{% macro clean_text(col) -%}
    nullif(trim({{ col }}), '')
{%- endmacro %}


{#
    Date from text in a PostgreSQL to_date format. Only the two formats used by
    the registry are recognised: 'YYYYMMDD' (SAP) and 'YYYY-MM-DD' (the others).
#}
{% macro safe_cast_date(col, fmt='YYYY-MM-DD') -%}
    {#- strptime, which validated the value, also accepts 2024-3-1: so does to_date. -#}
    {%- set shapes = {'YYYYMMDD': '^[0-9]{8}$', 'YYYY-MM-DD': '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$'} -%}
    {%- if fmt not in shapes -%}
        {{ exceptions.raise_compiler_error("safe_cast_date: unsupported format " ~ fmt) }}
    {%- endif -%}
    case
        when trim({{ col }}) ~ '{{ shapes[fmt] }}'
            then to_date(trim({{ col }}), '{{ fmt }}')
    end
{%- endmacro %}


{#
    ISO 8601 date-time -> timestamp (without time zone) in UTC. Odoo exports UTC
    without an offset; an explicit offset (Z, +02:00) is honoured. Doing the
    conversion here keeps the result independent of the session TimeZone.
#}
{% macro safe_cast_timestamp_utc(col) -%}
    case
        when trim({{ col }}) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$'
            then (trim({{ col }})::timestamptz at time zone 'UTC')
        when trim({{ col }}) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$'
            then trim({{ col }})::timestamp
    end
{%- endmacro %}


{#
    Decimal text -> numeric: plain decimal notation with optional sign and exponent,
    what ingest validation (Python Decimal) lets through and JSON floats look like
    ('12.0', '1e-05').
#}
{% macro safe_cast_numeric(col) -%}
    case
        when trim({{ col }}) ~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$'
            then trim({{ col }})::numeric
    end
{%- endmacro %}


{# Integer text -> integer; '10.0' style values from spreadsheets are accepted. #}
{% macro safe_cast_int(col) -%}
    case
        when trim({{ col }}) ~ '^[+-]?[0-9]{1,9}$' then trim({{ col }})::integer
        when trim({{ col }}) ~ '^[+-]?[0-9]{1,9}\.0*$' then trim({{ col }})::numeric::integer
    end
{%- endmacro %}


{# 'true'/'false' text (ingest normalises booleans to these) -> boolean. #}
{% macro safe_cast_bool(col) -%}
    case lower(trim({{ col }}))
        when 'true' then true
        when 'false' then false
    end
{%- endmacro %}
