ALTER TABLE reference.customers
    DROP COLUMN preferred_contact_channel,
    DROP COLUMN preferred_language,
    DROP COLUMN address;
