/** The namespace nicpool's components run in. */
export const NICPOOL_NAMESPACE = 'nicpool-system';
