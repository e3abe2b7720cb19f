// Who Capstan's own commits are by. Kept apart from the Git code so settings
// can parse it without loading isomorphic-git.

export interface Author {
  name: string;
  email: string;
}

/** "Name <email>" → Author; undefined when it is not that shape. */
export function parseAuthor(text: string): Author | undefined {
  const match = /^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$/.exec(text);
  return match?.[1] === undefined || match[2] === undefined ? undefined : { name: match[1], email: match[2] };
}
