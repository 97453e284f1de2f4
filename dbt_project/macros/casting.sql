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
    The guards below use pg_input_is_valid (PostgreSQL 16+) and plain string tests
    rather than shape regexes: ingest validation has already checked the shapes, and a
    regex per cell cost more than the rest of staging on millions of rows.
#}
{% macro safe_cast_timestamp_utc(col) -%}
    case
        when not pg_input_is_valid(trim({{ col }}), 'timestamp') then null
        -- An offset can only follow the date part: Z, or a sign after position 10.
        when right(trim({{ col }}), 1) = 'Z'
            or strpos(substr(trim({{ col }}), 11), '+') > 0
            or strpos(substr(trim({{ col }}), 11), '-') > 0
            then (trim({{ col }})::timestamptz at time zone 'UTC')
        else trim({{ col }})::timestamp
    end
{%- endmacro %}


{#
    Decimal text -> numeric. Ingest validation lets through plain decimal notation
    with optional sign and exponent only ('12.0', '1e-05'; never NaN or Infinity), so
    "parses as numeric" is the whole guard.
#}
{% macro safe_cast_numeric(col) -%}
    case
        when pg_input_is_valid(trim({{ col }}), 'numeric') then trim({{ col }})::numeric
    end
{%- endmacro %}


{# Integer text -> integer; '10.0' style values from spreadsheets are accepted. #}
{% macro safe_cast_int(col) -%}
    case
        when pg_input_is_valid(trim({{ col }}), 'integer') then trim({{ col }})::integer
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
