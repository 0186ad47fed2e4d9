//! Refuses SQL whose shape DataFusion would plan by deep recursion.
//!
//! The SQL parser limits nesting (parentheses, function calls, subqueries)
//! to 50 levels, but it builds a chain such as `1+1+...+1`, `a OR b OR ...`,
//! `... UNION ALL SELECT ...` or a long list of joined tables without
//! nesting, into a tree as deep as the chain is long. Planning, optimising
//! and evaluating that tree recurses once per level, and on a 2 MiB thread
//! stack (a tokio worker's) a chain of a few hundred overflows it: the whole
//! process aborts. A chain of 30,000 fits in the 64 KiB body limit. So before
//! a statement is planned, its depth and size are measured here
//! and held well below what overflows.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Query, Select, TableFactor, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, Result};

/// Deepest nesting of expressions, queries and table references; a chain of
/// n binary operators nests n deep.
pub const MAX_DEPTH: usize = 64;
/// Most table references (each joined table counts).
pub const MAX_TABLES: usize = 32;
/// Most SELECT blocks (each side of a UNION, each CTE and subquery counts).
pub const MAX_SELECTS: usize = 32;

/// Refuses `statement` when it is too deep or too large to plan safely; the
/// message names the limit and how to stay under it. Run [`set_operations`]
/// on the text first.
pub fn check(statement: &DfStatement) -> Result<()> {
    let statement = match statement {
        DfStatement::Statement(s) => s,
        DfStatement::Explain(e) => match &*e.statement {
            DfStatement::Statement(s) => s,
            _ => return Ok(()),
        },
        // Refused before planning by fivefold-query.
        _ => return Ok(()),
    };
    let mut shape = Shape { depth: 0, tables: 0, selects: 0 };
    match statement.visit(&mut shape) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(too_much) => Err(Error::TooComplex { message: too_much }),
    }
}

/// Refuses too many set operations, from the tokens, before the statement is
/// parsed: a chain of them nests without passing a SELECT on the way down,
/// so [`check`] would walk all of it before it counts one.
pub fn set_operations(sql: &str) -> Result<()> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(()); // the parser reports it
    };
    let n = tokens
        .iter()
        .filter(|t| {
            matches!(t, Token::Word(w) if matches!(w.keyword, Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT | Keyword::MINUS))
        })
        .count();
    if n >= MAX_SELECTS {
        return Err(Error::TooComplex {
            message: too_complex(format!(
                "it combines more than {MAX_SELECTS} SELECTs with UNION, INTERSECT or EXCEPT"
            )),
        });
    }
    Ok(())
}

fn too_complex(what: String) -> String {
    format!(
        "the query is too complex to plan safely: {what}; split it into smaller queries \
         (an IN (...) list or a CASE counts as one level, a chain of AND, OR or + as one per term)"
    )
}

/// Walks the tree, stopping as soon as a limit is passed, so the walk itself
/// never goes deeper than [`MAX_DEPTH`] levels of these nodes.
struct Shape {
    depth: usize,
    tables: usize,
    selects: usize,
}

impl Shape {
    fn enter(&mut self) -> ControlFlow<String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return ControlFlow::Break(too_complex(format!(
                "it nests expressions, subqueries or tables more than {MAX_DEPTH} deep"
            )));
        }
        ControlFlow::Continue(())
    }

    fn leave(&mut self) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

impl Visitor for Shape {
    type Break = String;

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<String> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<String> {
        self.leave()
    }

    fn pre_visit_select(&mut self, _: &Select) -> ControlFlow<String> {
        self.selects += 1;
        if self.selects > MAX_SELECTS {
            return ControlFlow::Break(too_complex(format!(
                "it has more than {MAX_SELECTS} SELECTs (subqueries, CTEs and set operations)"
            )));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<String> {
        self.tables += 1;
        if self.tables > MAX_TABLES {
            return ControlFlow::Break(too_complex(format!(
                "it reads more than {MAX_TABLES} tables (each join counts)"
            )));
        }
        self.enter()
    }

    fn post_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<String> {
        self.leave()
    }

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<String> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<String> {
        self.leave()
    }
}
