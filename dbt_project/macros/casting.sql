{#
    Casts from the raw text columns. Ingest validation already quarantines rows
    whose declared types do not parse, so these macros mainly guard against blank
    cells and odd spacing: anything that does not look like the expected shape
    becomes NULL instead of failing the whole view.
    (An impossible calendar date such as 20240231 still matches the shape and
    would raise; validation rejects those upstream.)

    Two forms by server version (macros/server_version.sql):
    - PostgreSQL 16+: pg_input_is_valid guards every cast (a regex per cell cost
      more than the rest of staging on millions of rows);
    - PostgreSQL 15: a column the registry declares with the cast's type is cast
      as is (blank -> NULL): ingest's Arrow validation (assets/ingest/validation.py)
      already guarantees that every loaded value casts. A column declared text
      (validated=false: e.g. SAP's operation number '0010') is guarded by the shape
      regex of that validation instead; such columns are few and small.
    tests/unit/test_staging_casts.py checks that every cast of a raw column either
    matches its registry type or says validated=false.
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
    Past the guard, plain string tests rather than shape regexes tell the offset:
    ingest validation has already checked the shapes.
#}
{% macro safe_cast_timestamp_utc(col, validated=true) -%}
    {%- set value = 'trim(' ~ col ~ ')' -%}
    {%- if has_pg_input_is_valid() -%}
        {%- set guard = "pg_input_is_valid(" ~ value ~ ", 'timestamp')" -%}
    {%- elif validated -%}
        {%- set guard = value ~ " <> ''" -%}
    {%- else -%}
        {%- set guard = value ~ " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}"
            ~ "(:[0-9]{2}([.][0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$'" -%}
    {%- endif -%}
    case
        when not ({{ guard }}) then null
        -- An offset can only follow the date part: Z, or a sign after position 10.
        when right({{ value }}, 1) = 'Z'
            or strpos(substr({{ value }}, 11), '+') > 0
            or strpos(substr({{ value }}, 11), '-') > 0
            then ({{ value }}::timestamptz at time zone 'UTC')
        else {{ value }}::timestamp
    end
{%- endmacro %}


{#
    Decimal text -> numeric. Ingest validation lets through plain decimal notation
    with optional sign and exponent only ('12.0', '1e-05'; never NaN or Infinity), so
    "parses as numeric" is the whole guard.
#}
{% macro safe_cast_numeric(col, validated=true) -%}
    {%- set value = 'trim(' ~ col ~ ')' -%}
    {%- if has_pg_input_is_valid() -%}
    case
        when pg_input_is_valid({{ value }}, 'numeric') then {{ value }}::numeric
    end
    {%- elif validated -%}
    nullif({{ value }}, '')::numeric
    {%- else -%}
    case
        when {{ value }} ~ '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$'
            then {{ value }}::numeric
    end
    {%- endif -%}
{%- endmacro %}


{# Integer text -> integer; '10.0' style values from spreadsheets are accepted. #}
{% macro safe_cast_int(col, validated=true) -%}
    {%- set value = 'trim(' ~ col ~ ')' -%}
    {%- if has_pg_input_is_valid() -%}
    case
        when pg_input_is_valid({{ value }}, 'integer') then {{ value }}::integer
        when {{ value }} ~ '^[+-]?[0-9]{1,9}\.0*$' then {{ value }}::numeric::integer
    end
    {%- elif validated -%}
    case
        when strpos({{ value }}, '.') > 0 then {{ value }}::numeric::integer
        else nullif({{ value }}, '')::integer
    end
    {%- else -%}
    case
        when {{ value }} ~ '^[+-]?[0-9]{1,9}$' then {{ value }}::integer
        when {{ value }} ~ '^[+-]?[0-9]{1,9}\.0*$' then {{ value }}::numeric::integer
    end
    {%- endif -%}
{%- endmacro %}


{# 'true'/'false' text (ingest normalises booleans to these) -> boolean. #}
{% macro safe_cast_bool(col) -%}
    case lower(trim({{ col }}))
        when 'true' then true
        when 'false' then false
    end
{%- endmacro %}
