/**
 * The shortest secret `serve` accepts (tokens, the admin password, provider
 * credentials, a Redis password). Log redaction replaces secret values wherever
 * they appear, so a short one (`admin`, `t`) would show itself by the words it
 * blanks out; 16 random characters never occur by chance (docs/configuration.md#secrets).
 */
export const MIN_SECRET_LENGTH = 16;
