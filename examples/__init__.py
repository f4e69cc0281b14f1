"""The examples: one seeded generator of messages (claims.v2, enrolments.v2) and the sample
payer data they are priced against. Not part of the installed product."""
