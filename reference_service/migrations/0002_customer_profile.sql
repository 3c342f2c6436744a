-- depends: 0001_reference_schema
-- How a customer wants to be reached, and where they live: what a claims handler or an
-- underwriter reads in a customer's profile.
ALTER TABLE reference.customers
    ADD COLUMN preferred_contact_channel text NOT NULL DEFAULT 'email'
        CHECK (preferred_contact_channel IN ('email', 'phone', 'sms', 'post')),
    ADD COLUMN preferred_language text NOT NULL DEFAULT 'en',
    ADD COLUMN address text NOT NULL DEFAULT '';
