"""``compensation`` and each level's ``limits``: what may be granted, by whom, within which caps.

- :mod:`.proposals`: proposals, approval (``approval_from``), the per-complaint and per-customer
  caps (``caps``), grants;
- :mod:`.option_sets`: remedies offered together (``option_sets``) and the customer's choice.
"""
