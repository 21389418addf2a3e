#![allow(unused)]
use super::EntryError;
#[derive(Clone, Copy)]
pub enum Operator {
    And,
    Or,
}
pub struct IndexQuery {
    pub keys: Vec<String>,
    pub operator: Operator,
}
pub fn parse_index_query(request_body: &[u8]) -> Result<IndexQuery, EntryError> {
    todo!()
}
