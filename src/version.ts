/** The service's API version, reported by /openapi.json and the v2 server metadata. */
export const API_VERSION = '0.1.0';
