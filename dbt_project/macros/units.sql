{#
    Unit of measure codes of every source -> the unified vocabulary:
    EA (piece), KG, G, T, L, ML, M, CM, MM, M2, M3. Unknown codes pass through
    upper-cased so they stay visible (and fail the accepted_values warning test)
    instead of being silently mapped.
#}
{% macro normalize_uom(col) -%}
    case upper(trim({{ col }}))
        -- pieces: SAP ST (Stueck), PC/PCE, Odoo 'Units' / 'Unit(s)'
        when 'ST' then 'EA'
        when 'PC' then 'EA'
        when 'PCE' then 'EA'
        when 'EA' then 'EA'
        when 'UNIT' then 'EA'
        when 'UNITS' then 'EA'
        when 'UNIT(S)' then 'EA'
        when 'STK' then 'EA'
        -- mass
        when 'KG' then 'KG'
        when 'G' then 'G'
        when 'TO' then 'T'
        when 'T' then 'T'
        -- volume
        when 'L' then 'L'
        when 'LITER' then 'L'
        when 'LITERS' then 'L'
        when 'ML' then 'ML'
        when 'M3' then 'M3'
        -- length / area
        when 'M' then 'M'
        when 'CM' then 'CM'
        when 'MM' then 'MM'
        when 'M2' then 'M2'
        else upper(trim({{ col }}))
    end
{%- endmacro %}


{#
    A duration in the given time unit -> minutes. SAP routings carry the unit in
    VGE01 (MIN or H; S and D appear in some plants). NULL for an unknown unit so
    a wrong conversion can never pass as a plausible number.
#}
{% macro to_minutes(value, unit) -%}
    case upper(trim({{ unit }}))
        when 'MIN' then ({{ value }})
        when 'H' then ({{ value }}) * 60
        when 'HR' then ({{ value }}) * 60
        when 'S' then ({{ value }}) / 60.0
        when 'SEC' then ({{ value }}) / 60.0
        when 'D' then ({{ value }}) * 1440
        when 'TAG' then ({{ value }}) * 1440
    end
{%- endmacro %}
