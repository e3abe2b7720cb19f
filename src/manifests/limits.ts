// Bounds on what a manifest may ask for (issue 10): a commit is input from
// whoever can push, so its size, its fan-out (replicas, port ranges,
// services) and its names are capped before anything is planned. The
// operator raises or lowers each in the `limits:` of the --policy file.

export interface Limits {
  /** Bytes of one manifest file (a stack file, an included or extended file, an env file). */
  fileBytes: number;
  /** Keys of one YAML mapping. */
  keysPerMapping: number;
  /** Services of one stack. */
  servicesPerStack: number;
  /** `deploy.replicas` of one service. */
  replicas: number;
  /** Ports one range (`8000-8099:80-179`) expands to. */
  portsPerRange: number;
  /** Characters of a stack, service, network or volume name, and of a container name Capstan derives from them. */
  nameLength: number;
}

/** Docker refuses container names and hostnames past these lengths: 63 keeps `<stack>-<service>-<n>` a valid DNS label. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  fileBytes: 1024 * 1024,
  keysPerMapping: 10_000,
  servicesPerStack: 200,
  replicas: 100,
  portsPerRange: 100,
  nameLength: 63,
});

/** Keys of `limits:` in the policy file, as users write them. */
export const LIMIT_KEYS: Readonly<Record<keyof Limits, string>> = {
  fileBytes: 'file_bytes',
  keysPerMapping: 'keys_per_mapping',
  servicesPerStack: 'services_per_stack',
  replicas: 'replicas',
  portsPerRange: 'ports_per_range',
  nameLength: 'name_length',
};
