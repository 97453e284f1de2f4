{#
    The combination of the given columns is unique in the model (a composite
    natural key). NULLs compare equal here, as in a GROUP BY: two rows with the
    same key and one NULL column still count as duplicates.
#}
{% test unique_combination(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
