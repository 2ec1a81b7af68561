"""Validated outcome measures (PEG, STarT Back, Oswestry): questionnaires as data, scored by a pure engine.

engine/ (pure: no Django) reads a definition and scores a response; models, services and selectors store and
read them; wording.py decides which questionnaires a deployment may offer (licensed wording comes from a
directory the deployment provides); fhir.py writes them as FHIR; api/ is the patient's and the physio's routes.
"""
