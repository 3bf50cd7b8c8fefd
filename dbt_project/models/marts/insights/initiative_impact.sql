-- One row per initiative: its target metric before and after started_at in
-- equal windows, the same change on untouched journeys (difference in
-- differences), the revenue effect through NPS and the financial link, ROI,
-- and the "you said, we did" sentence. Computed in the Python model
-- int_initiative_impacts_computed; this model fixes
-- the contract (select_as_contract: the columns and types of its yml).
{{ select_as_contract(computed('int_initiative_impacts_computed')) }}
