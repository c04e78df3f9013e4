"""Care for those who live alone (独居老人): ``rules`` decides whether a quiet home is an alarm
(pure), ``repository`` keeps profiles, contacts and sensors and opens wellbeing checks,
``routes`` the API, ``watch`` the periodic check of a hub process.
"""
