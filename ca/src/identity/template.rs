//! Values for CI-provider extensions, written in the subset of Go's
//! text/template that Fulcio's shipped `CIIssuerMetadata` uses:
//! `{{ .claim }}`, `{{ index . "claim.with/dots" }}` (optionally in
//! parentheses) and `{{ if eq ARG "literal" }}..{{ else }}..{{ end }}`.
//! A value without `{{` names one claim (or default) whose value is used.
//! Anything else is refused when the configuration loads, so a template that
//! loaded always renders or names the claim it lacks.

use std::collections::HashMap;

use super::error::IdentityError;

/// A parsed extension or SAN template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueTemplate {
    /// A bare claim name: the value of that claim (or default).
    Claim(String),
    /// A text/template body.
    Template(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(String),
    Value(Lookup),
    IfEq {
        left: Lookup,
        right: String,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `.name`: a missing key is an error, as with Go's `missingkey=error`.
    Field(String),
    /// `index . "name"`: a missing key gives "", as Go's `index` does on a map.
    Index(String),
}

/// One piece of an action between `{{` and `}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    LParen,
    RParen,
    Dot,
    Field(String),
    Word(String),
    Str(String),
}

/// What an action does to the template structure.
enum Action {
    Value(Lookup),
    If(Lookup, String),
    Else,
    End,
}

impl ValueTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.contains("{{") {
            return Ok(Self::Claim(text.trim().to_string()));
        }
        // Each open block: its condition, the nodes gathered so far and,
        // once `else` is seen, the then-branch.
        type OpenBlock = (Lookup, String, Option<Vec<Node>>);
        let mut blocks: Vec<(OpenBlock, Vec<Node>)> = Vec::new();
        let mut current: Vec<Node> = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                current.push(Node::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or("unclosed {{")?;
            let action = parse_action(&after[..end])?;
            rest = &after[end + 2..];
            match action {
                Action::Value(lookup) => current.push(Node::Value(lookup)),
                Action::If(left, right) => {
                    let outer = std::mem::take(&mut current);
                    blocks.push(((left, right, None), outer));
                }
                Action::Else => {
                    let ((_, _, then), _) = blocks.last_mut().ok_or("{{else}} outside {{if}}")?;
                    if then.is_some() {
                        return Err("two {{else}} in one {{if}}".into());
                    }
                    *then = Some(std::mem::take(&mut current));
                }
                Action::End => {
                    let ((left, right, then), outer) =
                        blocks.pop().ok_or("{{end}} outside {{if}}")?;
                    let branch = std::mem::replace(&mut current, outer);
                    let (then, otherwise) = match then {
                        Some(then) => (then, branch),
                        None => (branch, Vec::new()),
                    };
                    current.push(Node::IfEq {
                        left,
                        right,
                        then,
                        otherwise,
                    });
                }
            }
        }
        if rest.contains("}}") {
            return Err("unmatched }}".into());
        }
        if !blocks.is_empty() {
            return Err("{{if}} without {{end}}".into());
        }
        if !rest.is_empty() {
            current.push(Node::Text(rest.to_string()));
        }
        Ok(Self::Template(current))
    }

    /// Fills the template from `data` (claims over defaults).
    pub fn render(&self, data: &HashMap<String, String>) -> Result<String, IdentityError> {
        match self {
            Self::Claim(name) => data
                .get(name)
                .cloned()
                .ok_or_else(|| IdentityError::MissingClaim(name.clone())),
            Self::Template(nodes) => {
                let mut out = String::new();
                render_nodes(nodes, data, &mut out)?;
                Ok(out)
            }
        }
    }
}

fn render_nodes(
    nodes: &[Node],
    data: &HashMap<String, String>,
    out: &mut String,
) -> Result<(), IdentityError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value(lookup) => out.push_str(&lookup.resolve(data)?),
            Node::IfEq {
                left,
                right,
                then,
                otherwise,
            } => {
                let branch = if left.resolve(data)? == *right {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, data, out)?;
            }
        }
    }
    Ok(())
}

impl Lookup {
    fn resolve(&self, data: &HashMap<String, String>) -> Result<String, IdentityError> {
        match self {
            Self::Field(name) => data
                .get(name)
                .cloned()
                .ok_or_else(|| IdentityError::MissingClaim(name.clone())),
            Self::Index(name) => Ok(data.get(name).cloned().unwrap_or_default()),
        }
    }
}

fn parse_action(body: &str) -> Result<Action, String> {
    if body.starts_with('-') || body.ends_with('-') {
        return Err("whitespace-trimming actions {{- -}} are not supported".into());
    }
    let tokens = tokenize(body)?;
    let mut position = 0;
    let action = match tokens.first() {
        Some(Token::Word(word)) if word == "else" => {
            position = 1;
            Action::Else
        }
        Some(Token::Word(word)) if word == "end" => {
            position = 1;
            Action::End
        }
        Some(Token::Word(word)) if word == "if" => {
            if tokens.get(1) != Some(&Token::Word("eq".into())) {
                return Err("only {{if eq ARG \"literal\"}} is supported".into());
            }
            position = 2;
            let left = parse_lookup(&tokens, &mut position)?;
            let Some(Token::Str(right)) = tokens.get(position) else {
                return Err("{{if eq}} must compare with a string literal".into());
            };
            position += 1;
            Action::If(left, right.clone())
        }
        _ => Action::Value(parse_lookup(&tokens, &mut position)?),
    };
    if position != tokens.len() {
        return Err(format!("unsupported action {{{{{}}}}}", body.trim()));
    }
    Ok(action)
}

fn parse_lookup(tokens: &[Token], position: &mut usize) -> Result<Lookup, String> {
    match tokens.get(*position) {
        Some(Token::Field(name)) => {
            *position += 1;
            Ok(Lookup::Field(name.clone()))
        }
        Some(Token::LParen) => {
            *position += 1;
            let inner = parse_lookup(tokens, position)?;
            if tokens.get(*position) != Some(&Token::RParen) {
                return Err("unbalanced parentheses".into());
            }
            *position += 1;
            Ok(inner)
        }
        Some(Token::Word(word)) if word == "index" => {
            match tokens.get(*position + 1..*position + 3) {
                Some([Token::Dot, Token::Str(name)]) => {
                    *position += 3;
                    Ok(Lookup::Index(name.clone()))
                }
                _ => Err("only index . \"claim\" is supported".into()),
            }
        }
        _ => Err("expected .claim or index . \"claim\"".into()),
    }
}

fn tokenize(body: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' {
                    Token::LParen
                } else {
                    Token::RParen
                });
            }
            '"' => {
                chars.next();
                let mut literal = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            return Err("escapes in string literals are not supported".into());
                        }
                        Some(c) => literal.push(c),
                        None => return Err("unterminated string literal".into()),
                    }
                }
                tokens.push(Token::Str(literal));
            }
            '.' => {
                chars.next();
                let name = take_identifier(&mut chars);
                tokens.push(if name.is_empty() {
                    Token::Dot
                } else {
                    Token::Field(name)
                });
            }
            c if c.is_ascii_alphabetic() => {
                tokens.push(Token::Word(take_identifier(&mut chars)));
            }
            other => {
                return Err(format!(
                    "unsupported character {other:?} in a template action"
                ));
            }
        }
    }
    Ok(tokens)
}

fn take_identifier(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn field_and_claim_forms() {
        let d = data(&[("url", "https://github.com"), ("repository", "o/r")]);
        let t = ValueTemplate::parse("{{ .url }}/{{ .repository }}").unwrap();
        assert_eq!(t.render(&d).unwrap(), "https://github.com/o/r");
        let c = ValueTemplate::parse("repository").unwrap();
        assert_eq!(c.render(&d).unwrap(), "o/r");
        let err = ValueTemplate::parse("{{ .nope }}")
            .unwrap()
            .render(&d)
            .unwrap_err();
        assert_eq!(err.to_string(), "identity token is missing claim nope");
    }

    #[test]
    fn shipped_gitlab_and_circleci_forms() {
        let t = ValueTemplate::parse(
            r#"refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}"#,
        )
        .unwrap();
        let branch = data(&[("ref_type", "branch"), ("ref", "main")]);
        assert_eq!(t.render(&branch).unwrap(), "refs/heads/main");
        let tag = data(&[("ref_type", "tag"), ("ref", "v1")]);
        assert_eq!(t.render(&tag).unwrap(), "refs/tags/v1");

        let t = ValueTemplate::parse(
            r#"{{if eq (index . "oidc.circleci.com/ssh-rerun") "true"}}ssh-rerun{{ else }}""{{end}}"#,
        )
        .unwrap();
        let rerun = data(&[("oidc.circleci.com/ssh-rerun", "true")]);
        assert_eq!(t.render(&rerun).unwrap(), "ssh-rerun");
        assert_eq!(t.render(&data(&[])).unwrap(), "\"\"");
        let t = ValueTemplate::parse(
            r#"{{.api_url}}/pipeline/{{(index . "oidc.circleci.com/pipeline-id")}}/config"#,
        )
        .unwrap();
        let d = data(&[
            ("api_url", "https://a"),
            ("oidc.circleci.com/pipeline-id", "7"),
        ]);
        assert_eq!(t.render(&d).unwrap(), "https://a/pipeline/7/config");
    }

    #[test]
    fn refuses_unsupported_syntax() {
        for bad in [
            "{{ .a | printf }}",
            "{{ range .a }}{{ end }}",
            "{{- .a }}",
            "{{ if .a }}x{{ end }}",
            "{{ .a }",
            "{{ end }}",
            "{{ if eq .a \"b\" }}x",
            "{{ call .a }}",
        ] {
            assert!(ValueTemplate::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
